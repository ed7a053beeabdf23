"""`tierdesk export`: a ticket's whole mail history as an mbox any mail client opens."""

from __future__ import annotations

import email
import email.policy
import mailbox
from pathlib import Path

from tierdesk.daemon.cli import main

from tests.conftest import FIXTURES

FLOW = FIXTURES / "flow"


def inject(config_file: Path, name: str, sender: str) -> None:
    assert (
        main(["inject", "-c", str(config_file), "--sender", sender, str(FLOW / name)])
        == 0
    )


def exported(config_file: Path, path: Path, *numbers: str) -> list[mailbox.mboxMessage]:
    assert main(["export", *numbers, "--mbox", str(path), "-c", str(config_file)]) == 0
    box = mailbox.mbox(path)
    try:
        return list(box)
    finally:
        box.close()


def message_ids(box: list[mailbox.mboxMessage]) -> list[str]:
    return [m["Message-ID"] for m in box]


def lines(raw: bytes) -> list[bytes]:
    return raw.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")


def test_a_ticket_exports_as_the_mail_that_came_in_and_went_out_oldest_first(
    config_file, tmp_path, capsys
):
    inject(config_file, "new_request.eml", "alice@customer.example")
    inject(config_file, "reply_with_token.eml", "alice@customer.example")
    inject(config_file, "attachment_1.eml", "carol@customer.example")

    box = exported(config_file, tmp_path / "audit.mbox", "1", "2")

    ids = message_ids(box)
    assert ids[0] == "<request-1@customer.example>"
    assert ids.index("<request-1-followup@customer.example>") < ids.index(
        "<attach-1@customer.example>"
    )  # ticket 1's mails, then ticket 2's
    assert any(m["From"] and "support@example.com" in m["From"] for m in box)  # our ack
    request_as_received = (FLOW / "new_request.eml").read_bytes()
    assert lines(box[0].as_bytes())[: len(lines(request_as_received))] == lines(
        request_as_received
    )
    assert box[0].get_from().startswith("alice@customer.example ")
    assert "exported" in capsys.readouterr().out


def test_mail_whose_bytes_were_purged_is_rebuilt_with_its_attachment_and_says_so(
    config_file, tmp_path
):
    inject(config_file, "attachment_1.eml", "carol@customer.example")
    assert main(["purge", "--older-than", "0s", "-c", str(config_file)]) == 0

    [request, *_] = exported(config_file, tmp_path / "audit.mbox", "1")

    rebuilt = email.message_from_bytes(request.as_bytes(), policy=email.policy.strict)
    assert "purged" in rebuilt["X-Tierdesk-Rebuilt"]
    assert rebuilt["Message-ID"] == "<attach-1@customer.example>"
    assert rebuilt["Subject"] == "Invoice attached 1"
    [pdf] = list(rebuilt.iter_attachments())
    assert pdf.get_filename() == "invoice.pdf"
    original = email.message_from_bytes((FLOW / "attachment_1.eml").read_bytes())
    [original_pdf] = [p for p in original.walk() if p.get_filename() == "invoice.pdf"]
    assert pdf.get_content() == original_pdf.get_payload(decode=True)


def test_an_unknown_ticket_writes_nothing(config_file, tmp_path, capsys):
    inject(config_file, "new_request.eml", "alice@customer.example")

    code = main(
        ["export", "1", "7", "--mbox", str(tmp_path / "x.mbox"), "-c", str(config_file)]
    )

    assert code == 1
    assert "no ticket 7; nothing written" in capsys.readouterr().err
    assert not (tmp_path / "x.mbox").exists()
