"""Agents work from their mail client: notices, answers, notes, commands, attachments, forgeries."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tierdesk.daemon.runtime import open_runtime
from tierdesk.parsers.reply_address import read
from tierdesk.storage.models import Event, Message, OutboxItem, Ticket

from tests.conftest import fixture_bytes, make_config
from tests.support.desk import OURS, body, new_ticket, open_desk


@pytest.fixture
def desk(tmp_path, db_url):
    """A desk with agents, tier 4 vendors and a queue group (tests/support/desk.py)."""
    yield from open_desk(tmp_path, db_url)


def test_new_ticket_notifies_the_tier_agents_with_their_own_signed_reply_address(desk):
    new_ticket(desk)

    for agent in ("alice", "bob"):
        notice = desk.notice_for(f"{agent}@acme.example")
        target = read(notice["Reply-To"].addresses[0].addr_spec, OURS, desk.keys)
        assert (target.ticket, target.role, target.name) == (1, "agent", agent)
        assert "the printer on floor 3 has been offline" in body(notice)
        assert "#status" in body(notice)
    assert not [
        m
        for m in desk.outbox()
        if m["To"].addresses[0].addr_spec == "carol@acme.example"
    ]
    [ack] = desk.outbox("ack")
    assert (
        read(ack["Reply-To"].addresses[0].addr_spec, OURS, desk.keys).role == "customer"
    )


def test_agent_answer_reaches_the_customer_clean_and_threaded(desk):
    ticket = new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    outcome = desk.receive(
        desk.agent_mail(
            "alice@acme.example",
            reply_to,
            """\
            #status resolved

            Hello Alice, we replaced the toner. It prints again.

            Best regards
            --
            Alice Smith, Senior Printer Whisperer, +49 30 1234

            On Mon, 2 Nov 2026 at 09:14, ACME Support <support@example.com> wrote:
            > New ticket 1 from Alice Example
            > the printer on floor 3 has been offline since this morning.
            """,
        )
    )

    assert outcome.kind == "appended"
    [answer] = desk.outbox("reply")
    raw = bytes(OutboxItem.get(OutboxItem.kind == "reply").raw)
    assert answer["To"].addresses[0].addr_spec == "alice@customer.example"
    assert answer["From"].addresses[0].addr_spec == "support@example.com"
    assert answer["From"].addresses[0].display_name == "Alice Smith (ACME Support)"
    assert b"alice@acme.example" not in raw  # the agent's own address never leaks
    assert "[ACME #1]" in answer["Subject"]
    assert "we replaced the toner" in body(answer)
    assert (
        "wrote:" not in body(answer)
        and "Whisperer" not in body(answer)
        and "#status" not in body(answer)
    )
    assert "request-1@customer.example" in answer["References"]
    assert answer["In-Reply-To"] is not None and answer["Auto-Submitted"] is None
    assert (
        read(answer["Reply-To"].addresses[0].addr_spec, OURS, desk.keys).role
        == "customer"
    )
    assert desk.outbox("resolved") == []  # the answer tells it (tests/test_one_mail.py)
    assert "We have marked ticket 1 as resolved" in body(answer)
    ticket = Ticket.get_by_id(ticket.id)
    assert ticket.status == "resolved" and ticket.first_response_at is not None
    stored = Message.get(Message.kind == "agent_reply")
    assert (
        stored.text.startswith("Hello Alice, we replaced the toner")
        and "wrote:" not in stored.text
    )
    assert Event.get(Event.kind == "status").actor == "agent:alice"


def test_forged_from_without_the_signed_address_changes_nothing(desk):
    ticket = new_ticket(desk)
    before = OutboxItem.select().count()

    forged = desk.agent_mail(
        "alice@acme.example",
        "support@example.com",
        "#status closed\nDone.",
        "[ACME #1] x",
        "f1",
    )
    outcome = desk.receive(forged)

    assert outcome.kind == "ignored"
    assert "without their signed reply address as envelope recipient" in outcome.reason
    assert Ticket.get_by_id(ticket.id).status == "new"
    [told] = OutboxItem.select().where(OutboxItem.id > before)  # alice, nobody else
    assert (told.kind, told.rcpt_key) == ("agent_refused", "alice@acme.example")
    assert Event.get(Event.kind == "refused").actor == "unverified:alice@acme.example"


def test_signed_agent_address_from_someone_else_changes_nothing(desk):
    ticket = new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
    before = OutboxItem.select().count()

    outcome = desk.receive(
        desk.agent_mail(
            "mallory@evil.example", reply_to, "#status closed\nBye.", mid="m1"
        )
    )

    assert outcome.kind == "ignored"
    assert Ticket.get_by_id(ticket.id).status == "new"
    [told] = OutboxItem.select().where(OutboxItem.id > before)  # alice, nobody else
    assert (told.kind, told.rcpt_key) == ("agent_refused", "alice@acme.example")
    assert (
        "came from 'mallory@evil.example'" in Event.get(Event.kind == "refused").detail
    )


def test_comment_stays_internal_and_tells_the_other_agents(desk):
    new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    desk.receive(
        desk.agent_mail(
            "alice@acme.example",
            reply_to,
            "#comment\nCustomer called, toner is on order.",
        )
    )

    assert desk.outbox("reply") == []
    assert (
        Message.get(Message.kind == "note").text
        == "Customer called, toner is on order."
    )
    [note] = desk.outbox("notify_note")
    assert note["To"].addresses[0].addr_spec == "bob@acme.example"
    customer_mail = [
        m
        for m in desk.outbox()
        if m["To"].addresses[0].addr_spec == "alice@customer.example"
    ]
    assert all("toner is on order" not in body(m) for m in customer_mail)


def test_note_address_makes_a_note_without_any_command(desk):
    new_ticket(desk)
    notice = desk.notice_for("alice@acme.example")
    note_address = next(w for w in body(notice).split() if ".na.alice." in w)

    desk.receive(
        desk.agent_mail(
            "alice@acme.example", note_address, "Internal: check the warranty."
        )
    )

    assert desk.outbox("reply") == []
    assert Message.get(Message.kind == "note").text == "Internal: check the warranty."


def test_invalid_command_is_refused_whole_with_an_answer_to_the_agent(desk):
    ticket = new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    outcome = desk.receive(
        desk.agent_mail(
            "alice@acme.example",
            reply_to,
            "#priority urgent\n#stauts resolved\n#assign zed\nDone!",
        )
    )

    assert outcome.kind == "ignored"
    ticket = Ticket.get_by_id(ticket.id)
    assert (ticket.priority, ticket.status) == ("normal", "new")  # nothing half-applied
    assert desk.outbox("reply") == []
    [refusal] = desk.outbox("command_errors")
    assert refusal["To"].addresses[0].addr_spec == "alice@acme.example"
    assert "#stauts" in body(refusal) and "unknown agent 'zed'" in body(refusal)


def test_commands_only_change_the_ticket_without_mailing_the_customer(desk):
    ticket = new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    desk.receive(
        desk.agent_mail(
            "alice@acme.example",
            reply_to,
            "#tier 2\n#assign me\n#priority high\n#tags +printer",
        )
    )

    ticket = Ticket.get_by_id(ticket.id)
    assert (ticket.tier, ticket.assignee, ticket.priority, ticket.tags) == (
        2,
        "alice",
        "high",
        "printer",
    )
    assert desk.outbox("reply") == []
    kinds = {e.kind for e in Event.select().where(Event.actor == "agent:alice")}
    assert {"tier", "assignee", "priority", "tags"} <= kinds


def test_merge_moves_the_conversation_and_later_replies_follow(desk):
    first = new_ticket(desk)
    second = desk.receive(
        fixture_bytes("flow/new_request.eml").replace(b"request-1@", b"request-2@")
    )
    reply_to = (
        desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
    )  # ticket 2's notice

    desk.receive(desk.agent_mail("alice@acme.example", reply_to, "#merge 1"))

    merged = Ticket.get(Ticket.number == second.ticket)
    assert (merged.status, merged.merged_into) == ("closed", first.id)
    assert (
        Message.get(Message.message_id == "request-2@customer.example").ticket_id
        == first.id
    )
    later = fixture_bytes("flow/reply_with_token.eml").replace(
        b"[acme #1]", f"[acme #{second.ticket}]".encode()
    )
    assert desk.receive(later).ticket == 1


def test_assigning_a_ticket_tells_the_new_assignee(desk):
    new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    desk.receive(desk.agent_mail("alice@acme.example", reply_to, "#assign carol"))

    [notice] = desk.outbox("notify_assigned")
    assert notice["To"].addresses[0].addr_spec == "carol@acme.example"
    assert "Alice" in body(notice) or "alice" in body(notice)
    assert Ticket.get().assignee == "carol"


def test_pending_with_a_question_tells_the_customer_we_wait(desk):
    new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    desk.receive(
        desk.agent_mail(
            "alice@acme.example", reply_to, "#status pending\nWhich model is it?"
        )
    )

    [answer] = desk.outbox("reply")
    assert desk.outbox("pending") == []  # one mail, not two
    assert "Which model is it?" in body(answer)
    assert "We need your answer" in body(answer)
    assert Ticket.get().status == "pending"


def test_pending_without_a_question_sends_the_pending_mail_alone(desk):
    new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    desk.receive(desk.agent_mail("alice@acme.example", reply_to, "#status pending"))

    assert desk.outbox("reply") == [] and len(desk.outbox("pending")) == 1


def test_subject_suffix_commands_work_like_command_lines(desk):
    new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec

    desk.receive(
        desk.agent_mail(
            "alice@acme.example",
            reply_to,
            "",
            subject="Re: printer [status=resolved;priority=low]",
        )
    )

    ticket = Ticket.get()
    assert (ticket.status, ticket.priority) == ("resolved", "low")
    assert len(desk.outbox("resolved")) == 1


def test_agent_attachments_go_along_to_the_customer(desk):
    new_ticket(desk)
    reply_to = desk.notice_for("alice@acme.example")["Reply-To"].addresses[0].addr_spec
    raw = (
        "From: Alice <alice@acme.example>\r\n"
        f"To: {reply_to}\r\nSubject: Re: manual\r\nMessage-ID: <att-1@acme.example>\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHere is the manual.\r\n"
        "--b\r\nContent-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="Руководство.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    ).encode()

    desk.receive(raw)

    [answer] = desk.outbox("reply")
    [attachment] = list(answer.iter_attachments())
    assert attachment.get_filename() == "Руководство.pdf"
    assert attachment.get_content() == b"%PDF-1.4\n"


def test_the_signing_secret_can_come_from_a_file(tmp_path, sqlite_url):
    secret = tmp_path / "secret"
    secret.write_text("a-shared-secret-for-two-instances\n")
    config = make_config(tmp_path, sqlite_url)
    runtime = open_runtime(
        replace(config, support=replace(config.support, secret_file=secret))
    )

    assert runtime.snapshot.keys.current.secret == b"a-shared-secret-for-two-instances"
    runtime.close()
