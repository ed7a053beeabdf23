"""Customer mail policies, one by one: a fixture and a few facts in, the plan out (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tierdesk.rules.decision import Decision
from tierdesk.rules.handling.customer import open_ticket, plan_customer_mail
from tierdesk.rules.handling.facts import Facts, ThreadMatch
from tierdesk.rules.handling.outcome import OutcomeKind
from tierdesk.rules.handling.plan import (
    AddParticipants,
    FollowsUp,
    NewTicket,
    RecordEvent,
    SetStatus,
    StoreMessage,
    Touch,
)
from tierdesk.rules.handling.thread import needs_routing, too_late_to_reopen

from tests.support.handling import NOW, SETTINGS, TICKET, inbound, ticket

NEW = "flow/new_request.eml"
REPLY = "flow/reply_with_token.eml"
ROUTED = Decision(tier=1, queue="default", language="en")
NOTHING_KNOWN = Facts()


def plan(fixture: str, facts: Facts = NOTHING_KNOWN, decision: Decision = ROUTED, **kw):
    return plan_customer_mail(inbound(fixture, **kw), facts, decision, SETTINGS, NOW)


def on_ticket(t=TICKET, via="subject token #1") -> Facts:
    return Facts(match=ThreadMatch(t, via))


def kinds(p) -> list[str]:
    return [m.kind for m in p.mails]


# -- the thread stage's policy: reopen, or a new ticket that follows up ----------


def test_a_reply_within_the_reopen_window_keeps_its_ticket():
    match = ThreadMatch(ticket(status="resolved"), "In-Reply-To")
    resolved = NOW - timedelta(days=29)

    assert too_late_to_reopen(inbound(REPLY), match, resolved, NOW, SETTINGS) == match


def test_a_reply_long_after_resolving_opens_a_new_ticket_that_follows_up():
    old = ticket(status="closed")
    match = ThreadMatch(old, "In-Reply-To")
    resolved = NOW - timedelta(days=31)

    result = too_late_to_reopen(inbound(REPLY), match, resolved, NOW, SETTINGS)

    assert result == ThreadMatch(None, "In-Reply-To", follows=old)


def test_a_robot_never_reopens_nor_follows_up():
    match = ThreadMatch(ticket(status="closed"), "In-Reply-To")
    robot = inbound("auto_reply_vacation.eml")

    assert (
        too_late_to_reopen(robot, match, NOW - timedelta(days=90), NOW, SETTINGS)
        == match
    )


def test_only_a_mail_that_would_open_a_ticket_is_routed():
    assert needs_routing(inbound(NEW), ThreadMatch(None, ""), SETTINGS)
    assert not needs_routing(inbound(REPLY), ThreadMatch(TICKET, "token"), SETTINGS)
    assert not needs_routing(
        inbound("auto_reply_vacation.eml"), ThreadMatch(None, ""), SETTINGS
    )
    assert not needs_routing(
        inbound("flow/status_request.eml"), ThreadMatch(None, ""), SETTINGS
    )


# -- the policies in order ----------------------------------------------------


def test_a_message_id_stored_before_is_a_duplicate_and_nothing_more():
    p = plan(REPLY, Facts(match=ThreadMatch(TICKET, "duplicate", duplicate=True)))

    assert (p.outcome, p.ticket, p.store, p.changes, p.mails) == (
        OutcomeKind.DUPLICATE,
        TICKET,
        None,
        (),
        (),
    )


def test_a_status_request_lists_the_senders_open_tickets():
    facts = Facts(open_tickets=(TICKET, ticket(number=7, subject="VPN")))

    p = plan("flow/status_request.eml", facts)

    assert p.outcome is OutcomeKind.ANSWERED
    assert p.ticket is None and p.store is None
    [answer] = p.mails
    assert (answer.template, answer.to.key) == ("status_list", "alice@customer.example")
    assert [row["token"] for row in answer.context["tickets"]] == [
        "[ACME #1]",
        "[ACME #7]",
    ]
    assert p.if_unsent == "status request not answered"


def test_a_status_request_from_an_unverified_sender_is_not_answered():
    p = plan("flow/status_request.eml", envelope_sender="bulk@elsewhere.example")

    assert p.outcome is OutcomeKind.IGNORED
    assert p.reason.startswith(
        "status request not answered: the sender alice@customer.example is not verified"
    )
    assert p.mails == ()


def test_a_rule_that_drops_ignores_the_message():
    p = plan(NEW, decision=replace(ROUTED, action="drop"))

    assert (p.outcome, p.reason, p.mails) == (
        OutcomeKind.IGNORED,
        "dropped by a rule",
        (),
    )


def test_a_rule_that_quarantines_sets_the_message_aside_naming_the_rule():
    decision = replace(ROUTED, action="quarantine", matched_rules=("suspicious",))

    p = plan(NEW, decision=decision)

    assert p.quarantine and p.outcome is OutcomeKind.QUARANTINED
    assert p.reason == "quarantined by rule 'suspicious'"


def test_our_own_mail_coming_back_is_ignored():
    p = plan("flow/own_ack_looped_back.eml", on_ticket())

    assert p.outcome is OutcomeKind.IGNORED
    assert p.reason.startswith("our own mail came back")
    assert p.store is None


def test_an_auto_reply_without_a_ticket_never_opens_one():
    p = plan("auto_reply_vacation.eml")

    assert p.outcome is OutcomeKind.IGNORED
    assert p.reason.startswith("auto_reply: ")


def test_a_mail_without_a_from_address_is_ignored():
    nobody = inbound(NEW)
    nobody = replace(nobody, mail=replace(nobody.mail, from_=None))
    p = plan_customer_mail(nobody, Facts(), ROUTED, SETTINGS, NOW)

    assert (p.outcome, p.reason) == (OutcomeKind.IGNORED, "no usable From address")


# -- opening a ticket -----------------------------------------------------------


def test_a_new_request_opens_a_ticket_with_an_ack_and_notices_to_the_tier():
    p = plan(NEW)

    assert p.outcome is OutcomeKind.NEW_TICKET
    assert isinstance(p.ticket, NewTicket)
    assert (p.ticket.title, p.ticket.requester.key) == (
        "Printer on floor 3 is offline",
        "alice@customer.example",
    )
    assert p.store == StoreMessage("customer")
    created, requester = p.changes
    assert requester == AddParticipants(("alice@customer.example",), "requester")
    assert (created.kind, created.actor) == (
        "created",
        "customer:alice@customer.example",
    )
    assert "tier 1, queue default" in created.detail
    assert kinds(p) == ["ack", "notify_new", "notify_new"]
    ack = p.mails[0]
    assert (ack.to.key, ack.cause, ack.thread.in_reply_to) == (
        "alice@customer.example",
        "request-1@customer.example",
        "request-1@customer.example",
    )
    assert {m.to.key for m in p.mails[1:]} == {"alice@acme.example", "bob@acme.example"}


def test_the_acknowledgement_greets_with_the_name_in_this_mail():
    ack = plan(NEW).mails[0]

    assert ack.to.name == "Alice Example"
    assert ack.context["customer"] == {
        "name": "Alice Example",
        "email": "alice@customer.example",
    }


def test_an_assigned_new_ticket_notifies_only_its_assignee():
    p = plan(NEW, decision=replace(ROUTED, assignee="carol"))

    assert [m.to.key for m in p.mails if m.kind == "notify_new"] == [
        "carol@acme.example"
    ]


def test_a_queue_with_its_own_group_notifies_that_group():
    p = plan(NEW, decision=replace(ROUTED, queue="hardware"))

    assert [m.to.key for m in p.mails if m.kind == "notify_new"] == ["bob@acme.example"]


def test_a_request_whose_envelope_sender_differs_opens_a_ticket_without_an_ack():
    p = plan(NEW, envelope_sender="mallory@evil.example")

    assert p.outcome is OutcomeKind.NEW_TICKET
    assert "ack" not in kinds(p)
    skipped = p.changes[-1]
    assert (skipped.kind, skipped.actor) == ("ack_skipped", "system")
    assert skipped.detail == (
        "the sender alice@customer.example is not verified: the envelope sender "
        "mallory@evil.example differs, and no trusted DMARC/SPF pass"
    )
    assert kinds(p) == ["notify_new", "notify_new"]  # the agents still hear of it


def test_a_rule_without_acknowledgement_records_why():
    p = plan(NEW, decision=replace(ROUTED, acknowledge=False))

    assert p.changes[-1] == RecordEvent(
        "system", "ack_skipped", "routing says no acknowledgement"
    )
    assert "ack" not in kinds(p)


def test_a_monitoring_alert_opens_a_ticket_but_gets_no_ack():
    p = plan("auto_generated_monitoring.eml")

    assert p.outcome is OutcomeKind.NEW_TICKET
    assert p.store == StoreMessage("auto_generated")
    assert "ack" not in kinds(p)
    assert "auto_generated" in p.changes[-1].detail


def test_a_new_ticket_after_the_reopen_window_links_the_old_one():
    old = ticket(status="closed")
    facts = Facts(match=ThreadMatch(None, "In-Reply-To", follows=old))

    p = open_ticket(inbound(REPLY), facts, ROUTED, SETTINGS, NOW)

    assert FollowsUp(old, "customer:alice@customer.example") in p.changes


def test_the_sla_deadlines_come_from_the_rules_at_now():
    from tierdesk.rules.calendar import BusinessHours
    from tierdesk.rules.model import SlaPolicy

    policy = SlaPolicy("std", {"normal": 3600.0}, {}, BusinessHours.always("UTC"))
    settings = replace(SETTINGS, rules=replace(SETTINGS.rules, sla={"std": policy}))

    p = open_ticket(inbound(NEW), Facts(), replace(ROUTED, sla="std"), settings, NOW)

    assert p.ticket.deadlines.first_response == NOW + timedelta(hours=1)


# -- joining a ticket -------------------------------------------------------------


def test_a_reply_joins_its_ticket_and_tells_the_watchers():
    p = plan(REPLY, on_ticket())

    assert (p.outcome, p.reason) == (
        OutcomeKind.APPENDED,
        "threaded by subject token #1",
    )
    assert p.ticket == TICKET
    assert p.store == StoreMessage("customer", remember_sender=True)
    assert p.changes == (
        RecordEvent(
            "customer:alice@customer.example",
            "message",
            "customer via subject token #1",
        ),
        Touch(),
    )
    assert kinds(p) == ["notify_reply", "notify_reply"]
    assert p.mails[0].context["author"] == "Alice Example <alice@customer.example>"


def test_a_customer_reply_reopens_a_resolved_or_pending_ticket():
    for status in ("resolved", "pending"):
        p = plan(REPLY, on_ticket(ticket(status=status)))

        assert SetStatus(
            "open", "customer:alice@customer.example", "customer replied"
        ) in (p.changes)


def test_an_auto_reply_joins_its_ticket_quietly():
    p = plan("auto_reply_vacation.eml", on_ticket(ticket(status="resolved")))

    assert p.outcome is OutcomeKind.APPENDED
    assert p.store.kind == "auto_reply"
    assert Touch() in p.changes
    assert not any(isinstance(c, SetStatus) for c in p.changes)
    assert p.mails == ()
