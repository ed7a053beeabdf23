"""The agent round trip through a running `tierdesk run`, real SMTP in and a real relay out."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from tests.conftest import fixture_bytes
from tests.support.daemon_process import DaemonProcess, wait_until

RULES = """
agents:
  alice: {address: alice@acme.example, name: Alice Smith, tier: 1}
rules: []
"""


def to_address(received) -> str:
    return received.message["To"].addresses[0].addr_spec


def test_customer_request_agent_answer_and_status_over_real_smtp(
    tmp_path, db_url, relay_sink
):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    d = DaemonProcess(
        tmp_path, db_url, extra_yaml=f"rules: {rules}\n", relay_port=relay_sink.port
    ).start()
    try:
        d.send(fixture_bytes("flow/new_request.eml"))
        relay_sink.wait_for(2)
        [notice] = [
            r for r in relay_sink.received if to_address(r) == "alice@acme.example"
        ]
        [ack] = [
            r for r in relay_sink.received if to_address(r) == "alice@customer.example"
        ]
        agent_address = notice.message["Reply-To"].addresses[0].addr_spec

        answer = EmailMessage()
        answer["From"] = "Alice Smith <alice@acme.example>"
        answer["To"] = agent_address
        answer["Subject"] = f"Re: {notice.message['Subject']}"
        answer["Message-ID"] = "<answer-1@acme.example>"
        answer["In-Reply-To"] = notice.message["Message-ID"]
        answer.set_content(
            "#status resolved\n\nThe toner was empty; it prints again.\n\n"
            "On Mon, 2 Nov 2026 at 09:14, ACME Support <support@example.com> wrote:\n"
            "> New ticket 1 from Alice Example\n> the printer has been offline\n"
        )
        with smtplib.SMTP("127.0.0.1", d.port) as smtp:
            smtp.send_message(
                answer, from_addr="alice@acme.example", to_addrs=[agent_address]
            )

        wait_until(
            lambda: len(relay_sink.received) >= 3,
            message="the answer, which tells the status too",
        )
        customer_mail = [
            r
            for r in relay_sink.received[2:]
            if to_address(r) == "alice@customer.example"
        ]
        [reply] = customer_mail  # one mail, not two
        msg = reply.message
        assert reply.mail_from.startswith("support+bounce-")  # its own VERP address
        assert msg["From"].addresses[0].addr_spec == "support@example.com"
        assert b"alice@acme.example" not in reply.raw
        assert "[ACME #1]" in msg["Subject"]
        assert msg["In-Reply-To"] == ack.message["Message-ID"]
        assert "<request-1@customer.example>" in msg["References"]
        text = msg.get_body(("plain",)).get_content()
        assert "The toner was empty" in text
        assert "We have marked ticket 1 as resolved" in text
        assert "wrote:" not in text and "#status" not in text
        ticket = d.cli_json("tickets", "show", "1")
        assert ticket["status"] == "resolved" and ticket["first_response_at"]
    finally:
        assert d.stop() == 0
