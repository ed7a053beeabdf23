"""Who may act as an agent or vendor, and what happens to mail that only claims to.

An agent acts only when every one of these is a fact: their signed address
is the envelope recipient, its signature is valid and not expired, the
From: address is theirs (a vendor: their domain), and, where the site names
a trusted authserv-id, that server says DKIM or DMARC pass for the domain.
A refusal is an event on the ticket with the reason, and the agent named
by the address gets one short answer saying why (subject to the limits).
"""

from __future__ import annotations

from datetime import datetime

from tierdesk.parsers.authres import dkim_or_dmarc_pass, domain_of
from tierdesk.parsers.idn import comparable_domain, comparable_local
from tierdesk.rules.guard import automatic_mail_refusal, is_deliverable_address
from tierdesk.rules.handling.facts import ClaimedAgent, Facts, Inbound, UnsignedAgent
from tierdesk.rules.handling.mails import agent_notice
from tierdesk.rules.handling.outcome import OutcomeKind
from tierdesk.rules.handling.plan import MailSpec, Plan, RecordEvent, Thread, ignore
from tierdesk.rules.handling.settings import Settings
from tierdesk.rules.handling.trust import signed_address_problem
from tierdesk.rules.model import Agent


def same_address(one: str, other: str) -> bool:
    """The same mailbox: local parts equal (case and Unicode form aside), domains as A-labels."""
    local, _, domain = one.strip().rpartition("@")
    other_local, _, other_domain = other.strip().rpartition("@")
    return comparable_local(local) == comparable_local(other_local) and (
        comparable_domain(domain) == comparable_domain(other_domain)
    )


def may_speak_for(agent: Agent, role: str, from_address: str) -> bool:
    """An agent must write from their own address; a vendor from their domain."""
    if role == "agent":
        return same_address(from_address, agent.address)
    return (
        comparable_domain(from_address.rpartition("@")[2])
        == comparable_domain(agent.address.rpartition("@")[2])
        and agent.tier == 4
    )


def authority_problem(
    msg: Inbound, party: ClaimedAgent, settings: Settings, now: datetime
) -> str | None:
    """Why this mail may not act as the party its signed address names, or None."""
    target, agent = party.target, party.agent
    if agent is None:
        return f"{target.name!r} is no {target.role} (any more)"
    problem = signed_address_problem(target, now, settings)
    if problem:
        return problem
    if not may_speak_for(agent, target.role, msg.sender):
        return f"it came from {msg.sender!r}"
    authserv = settings.trust_for(msg.mailbox).authserv_id
    if authserv:
        domain = domain_of(msg.sender)
        results = msg.envelope.authentication
        if results is None:
            return f"it carries no Authentication-Results from {authserv}"
        if dkim_or_dmarc_pass(results, domain) is None:
            return f"{authserv} reports no DKIM or DMARC pass for {domain}"
    return None


def refuse_claim(
    msg: Inbound, party: ClaimedAgent, facts: Facts, problem: str, settings: Settings
) -> Plan:
    """Nothing happens but an event and one short answer to the agent the address names."""
    target = party.target
    reason = (
        f"mail to the signed address of {target.role} {target.name!r} "
        f"not acted upon: {problem}"
    )
    return _refusal(msg, facts, reason, party.agent, settings)


def refuse_unsigned(
    msg: Inbound, party: UnsignedAgent, facts: Facts, settings: Settings
) -> Plan:
    """An agent's address in From: without their signed address proves nothing: store nothing."""
    reason = (
        f"mail from agent {party.agent.name!r}'s address without their signed reply "
        "address as envelope recipient: not acted upon"
    )
    return _refusal(msg, facts, reason, party.agent, settings)


def _refusal(
    msg: Inbound, facts: Facts, reason: str, agent: Agent | None, settings: Settings
) -> Plan:
    match = facts.match
    ticket = match.ticket if not match.duplicate else None
    if ticket is None:
        return ignore(reason, match.ticket)
    event = RecordEvent(f"unverified:{msg.sender}", "refused", reason)
    answers = _tell_the_agent(msg, agent, reason, ticket.number, settings)
    return Plan(
        OutcomeKind.IGNORED, reason, ticket, changes=(event,), mails=tuple(answers)
    )


def _tell_the_agent(
    msg: Inbound, agent: Agent | None, reason: str, number: int, settings: Settings
) -> list[MailSpec]:
    """One short answer to the real agent, unless the mail came from a robot."""
    if agent is None or not is_deliverable_address(agent.address):
        return []
    if automatic_mail_refusal(msg.classification, msg.sender, settings.own_addresses):
        return []  # never answer a robot, not even through the agent
    cause = f"{msg.mail.message_id}/refused"
    return [
        agent_notice(
            agent,
            "agent_refused",
            cause,
            Thread.of([]),
            settings.default_language,
            f"mail in {agent.name}'s name to ticket {number} was refused",
            limit_class="automatic",
            reason=reason,
            author=msg.sender or "(no sender)",
        )
    ]
