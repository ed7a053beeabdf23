"""Agent and vendor mail policies: who may act and what their mail plans (no database)."""

from __future__ import annotations

from tierdesk.parsers.reply_address import KeyRing, ReplyTarget
from tierdesk.rules.decision import Decision
from tierdesk.rules.handling.authority import may_speak_for
from tierdesk.rules.handling.decide import identify, plan_message
from tierdesk.rules.handling.facts import (
    ClaimedAgent,
    Customer,
    Facts,
    ThreadMatch,
    UnsignedAgent,
)
from tierdesk.rules.handling.outcome import OutcomeKind
from tierdesk.rules.handling.plan import (
    ChangeTags,
    MergeInto,
    RecordEvent,
    SetField,
    SetStatus,
    StopFirstResponseClock,
    StoreMessage,
)
from tierdesk.rules.model import Agent

from tests.support.handling import (
    AGENTS,
    KEYS,
    NOW,
    SETTINGS,
    TICKET,
    inbound,
    ticket,
)

ALICE_SIGNED = "support+1.ra.alice.000g0n.qvsbromjv27y@example.com"
ALICE_NOTE = "support+1.na.alice.000g0n.7ms4w3coulke@example.com"
VENDOR_SIGNED = "support+1.rv.acmevendor.000g0n.4ru4ko6qs7s3@example.com"
ON_TICKET = Facts(match=ThreadMatch(TICKET, "signed address"))


def agent_plan(fixture: str, facts: Facts = ON_TICKET, rcpt: str = ALICE_SIGNED):
    msg = inbound(f"agents/{fixture}", recipients=(rcpt,))
    party = identify(msg, SETTINGS, KEYS)
    return plan_message(msg, party, facts, Decision(), SETTINGS, NOW)


def kinds(p) -> list[str]:
    return [m.kind for m in p.mails]


# -- who is writing -------------------------------------------------------------


def test_mail_to_an_agents_signed_address_claims_to_be_that_agent():
    msg = inbound("agents/answer.eml", recipients=(ALICE_SIGNED,))

    party = identify(msg, SETTINGS, KEYS)

    assert party == ClaimedAgent(
        ReplyTarget(1, "agent", "alice", "reply", NOW.date(), KEYS.current),
        AGENTS["alice"],
    )


def test_an_agents_own_address_without_a_signed_one_is_an_unsigned_agent():
    party = identify(inbound("agents/unsigned.eml"), SETTINGS, KEYS)

    assert party == UnsignedAgent(AGENTS["alice"])


def test_a_customers_signed_reply_address_names_the_ticket():
    msg = inbound(
        "agents/customer_signed_reply.eml",
        recipients=("support+1.rc.x.000g0n.ldoorlbf7oa3@example.com",),
    )

    assert identify(msg, SETTINGS, KEYS) == Customer(signed_ticket=1)


def test_a_signature_made_with_another_secret_proves_nothing():
    msg = inbound("agents/answer.eml", recipients=(ALICE_SIGNED,))

    assert identify(msg, SETTINGS, KeyRing.single(b"another-secret")) == UnsignedAgent(
        AGENTS["alice"]
    )


def test_an_agent_writes_from_their_address_a_vendor_from_their_domain():
    alice, vendor = AGENTS["alice"], AGENTS["acmevendor"]

    assert may_speak_for(alice, "agent", "alice@acme.example")
    assert not may_speak_for(alice, "agent", "bob@acme.example")
    assert may_speak_for(vendor, "vendor", "support-team@vendor.example")
    assert not may_speak_for(vendor, "vendor", "help@vendor.example.evil")


# -- refusals -------------------------------------------------------------------


def test_a_stranger_at_an_agents_signed_address_changes_nothing_but_the_history():
    p = agent_plan("forged.eml")

    assert p.outcome is OutcomeKind.IGNORED
    assert "came from 'mallory@evil.example'" in p.reason
    assert p.store is None
    assert p.changes[0] == RecordEvent(
        "unverified:mallory@evil.example", "refused", p.reason
    )
    assert not [c for c in p.changes if isinstance(c, RecordEvent)][1:]
    [told] = p.mails  # the agent the address names hears of it, nobody else
    assert (told.template, told.to.key) == ("agent_refused", "alice@acme.example")


def test_an_unsigned_agent_mail_is_refused_with_an_event_on_its_ticket():
    msg = inbound("agents/unsigned.eml")
    facts = Facts(match=ThreadMatch(TICKET, "subject token #1"))

    p = plan_message(
        msg, identify(msg, SETTINGS, KEYS), facts, Decision(), SETTINGS, NOW
    )

    assert (p.outcome, p.ticket, p.store) == (OutcomeKind.IGNORED, TICKET, None)
    assert p.changes[0].kind == "refused"
    assert "without their signed reply address as envelope recipient" in p.reason


def test_an_agent_mail_seen_before_is_a_duplicate():
    facts = Facts(match=ThreadMatch(TICKET, "signed address", duplicate=True))

    assert agent_plan("answer.eml", facts).outcome is OutcomeKind.DUPLICATE


def test_a_signed_address_of_a_ticket_that_is_gone_is_ignored():
    p = agent_plan("answer.eml", Facts())

    assert p.outcome is OutcomeKind.IGNORED
    assert p.reason == "the signed address names ticket 1, which does not exist"


def test_one_wrong_command_refuses_the_whole_mail_and_tells_the_agent():
    p = agent_plan("bad_command.eml")

    assert p.outcome is OutcomeKind.IGNORED
    assert p.store is None
    assert "#assign: unknown agent 'nobody-here'" in p.reason
    assert "#merge: there is no ticket 99" in p.reason
    refused = p.changes[0]
    assert (refused.actor, refused.kind) == ("agent:alice", "agent_mail_refused")
    [answer] = p.mails
    assert (answer.template, answer.to.key) == ("command_errors", "alice@acme.example")
    assert len(answer.context["errors"]) == 2


def test_tier_four_needs_a_vendor_named_or_the_queues():
    in_default = Facts(match=ThreadMatch(ticket(queue="default"), "signed address"))
    in_hardware = Facts(match=ThreadMatch(ticket(queue="hardware"), "signed address"))

    refused = agent_plan("tier4_no_vendor.eml", in_default)
    assert refused.outcome is OutcomeKind.IGNORED
    assert "#tier 4 needs a vendor" in refused.reason
    assert agent_plan("tier4_no_vendor.eml", in_hardware).outcome is (
        OutcomeKind.APPENDED
    )


# -- what an agent's mail does ----------------------------------------------------


def test_an_answer_goes_to_the_customer_clean_and_stops_the_first_response_clock():
    p = agent_plan("answer.eml")

    assert (p.outcome, p.reason) == (
        OutcomeKind.APPENDED,
        "agent:alice: answer sent to the customer",
    )
    assert p.store.kind == "agent_reply"
    assert "we replaced the toner" in p.store.text
    assert "wrote:" not in p.store.text  # the quoted notice is gone
    assert StopFirstResponseClock("agent:alice") in p.changes
    assert SetStatus("open", "agent:alice") in p.changes  # a new ticket is answered
    [reply] = p.mails
    assert (reply.kind, reply.to.key, reply.thread) == (
        "reply",
        "alice@customer.example",
        None,  # under the conversation as it stands when rendered
    )
    assert reply.from_name == "Alice Smith"
    assert reply.limit_class == "relayed"


def test_resolving_with_an_answer_tells_the_status_in_the_answer_alone():
    p = agent_plan("answer_resolved.eml")

    assert SetStatus("resolved", "agent:alice") in p.changes
    assert kinds(p) == ["reply"]
    assert p.mails[0].context["new_status"] == "resolved"


def test_a_comment_is_a_note_for_the_other_watching_agents_only():
    p = agent_plan("note.eml")

    assert p.reason == "agent:alice: private note"
    assert p.store == StoreMessage(
        "note", text="Toner ordered from the usual supplier."
    )
    assert not any(isinstance(c, StopFirstResponseClock) for c in p.changes)
    assert [(m.kind, m.to.key) for m in p.mails] == [
        ("notify_note", "bob@acme.example")
    ]
    assert p.mails[0].context["author"] == "alice"


def test_the_note_address_makes_a_note_without_any_command():
    p = agent_plan("note_address.eml", rcpt=ALICE_NOTE)

    assert p.store.kind == "note"
    assert "reply" not in kinds(p)


def test_assigning_tells_the_new_assignee():
    p = agent_plan("assign_carol.eml")

    assert SetField("assignee", "carol", "agent:alice") in p.changes
    assert p.reason == "agent:alice: commands only"
    [notice] = p.mails
    assert (notice.template, notice.to.key) == ("notify_assigned", "carol@acme.example")
    assert notice.context["author"] == "alice"


def test_tier_four_hands_the_ticket_to_the_vendor_with_the_customers_words():
    facts = Facts(
        match=ThreadMatch(TICKET, "signed address"),
        last_customer_text="the printer on floor 3 has been offline",
    )

    p = agent_plan("hand_to_vendor.eml", facts)

    assert SetField("tier", 4, "agent:alice") in p.changes
    assert (
        RecordEvent(
            "agent:alice", "vendor", "handed to acmevendor <help@vendor.example>"
        )
        in p.changes
    )
    [forward] = [m for m in p.mails if m.kind == "vendor"]
    assert forward.to.key == "help@vendor.example"
    assert forward.context["text"] == "the printer on floor 3 has been offline"
    assert forward.context["note"] == "Please check the firmware of this model."


def test_merging_needs_the_target_and_then_works_on_it():
    other = ticket(id=20, number=2, subject="Printer again")
    known = Facts(match=ThreadMatch(TICKET, "signed address"), named_tickets={2: other})

    assert agent_plan("merge.eml", Facts(match=known.match)).outcome is (
        OutcomeKind.IGNORED
    )
    p = agent_plan("merge.eml", known)
    assert MergeInto(2, "agent:alice") in p.changes


def test_tags_and_fields_become_changes_in_command_order():
    from tierdesk.parsers.commands import parse_commands
    from tierdesk.rules.handling.commands import command_changes

    block = parse_commands("#tags +printer -new\n#priority high\n#queue hardware\n")
    commands = {c.name: c for c in block.commands}

    assert command_changes(commands, AGENTS["alice"], "agent:alice") == [
        SetField("priority", "high", "agent:alice"),
        SetField("queue", "hardware", "agent:alice"),
        ChangeTags(("+printer", "-new"), "agent:alice"),
    ]


def test_a_vendors_answer_is_a_note_for_the_agents_never_for_the_customer():
    p = agent_plan("vendor_answer.eml", rcpt=VENDOR_SIGNED)

    assert (p.outcome, p.reason) == (
        OutcomeKind.APPENDED,
        "vendor:acmevendor: note for the agents",
    )
    assert p.store == StoreMessage("vendor_note", text="Firmware 2.1 fixes this.")
    assert {m.to.key for m in p.mails} == {"alice@acme.example", "bob@acme.example"}
    assert {m.kind for m in p.mails} == {"notify_note"}


def test_an_agent_at_an_idn_domain_speaks_in_either_form_of_it():
    agent = Agent("olga", "olga@xn--e1afmkfd.xn--p1ai", "Olga", 1)

    assert may_speak_for(agent, "agent", "Olga@пример.рф")
    assert may_speak_for(agent, "agent", "olga@XN--E1AFMKFD.xn--p1ai")
    assert not may_speak_for(agent, "agent", "olga+x@пример.рф")
    assert not may_speak_for(agent, "agent", "olga@пример.com")
