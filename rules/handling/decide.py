"""Who is writing, and the plan for their message: the two decisions the pipeline asks for."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tierdesk.parsers.reply_address import KeyRing, first_signed, header_addresses
from tierdesk.rules.decision import Decision
from tierdesk.rules.handling.agent import plan_agent_mail
from tierdesk.rules.handling.authority import refuse_unsigned
from tierdesk.rules.handling.bounces import plan_bounce
from tierdesk.rules.handling.customer import plan_customer_mail
from tierdesk.rules.handling.facts import (
    ClaimedAgent,
    Customer,
    Facts,
    Inbound,
    Party,
    UnsignedAgent,
)
from tierdesk.rules.handling.files import plan_files_request
from tierdesk.rules.handling.outcome import OutcomeKind
from tierdesk.rules.handling.plan import (
    Change,
    ForgiveBounces,
    Plan,
    RememberText,
)
from tierdesk.rules.handling.search_mail import plan_search_request
from tierdesk.rules.handling.settings import Settings
from tierdesk.rules.handling.trust import sender_verification


def identify(msg: Inbound, settings: Settings, keys: KeyRing) -> Party:
    """Who writes: a claimed agent only by their signed address as envelope recipient.

    A signed address in To: or Cc: is the sender's word: it threads a
    customer's reply, it never makes anyone an agent.
    """
    own = settings.own_addresses
    target = first_signed(msg.envelope.recipients, own, keys)
    if target is not None and target.role != "customer":
        return ClaimedAgent(target, settings.rules.agents.get(target.name))
    agent = settings.rules.agent_by_address(msg.sender)
    if agent is not None:
        return UnsignedAgent(agent)
    customer = first_signed(
        [*msg.envelope.recipients, *msg.recipients, *header_addresses(msg.mail)],
        own,
        keys,
    )
    if customer is not None and customer.role == "customer":
        return Customer(customer.ticket)
    return Customer()


def plan_message(
    msg: Inbound,
    party: Party,
    facts: Facts,
    decision: Decision,
    settings: Settings,
    now: datetime,
) -> Plan:
    """Everything this message should change, decided from what we know."""
    if msg.bounce is not None and (bounced := plan_bounce(msg, facts, settings)):
        return bounced
    if (files := plan_files_request(msg, party, facts, settings)) is not None:
        return files  # support+files@ is for agents only: nobody else gets anything
    if (search := plan_search_request(msg, party, facts, settings)) is not None:
        return search  # support+search@ answers agents only: nobody else gets anything
    if isinstance(party, ClaimedAgent):
        plan = plan_agent_mail(msg, party, facts, settings, now)
    elif isinstance(party, UnsignedAgent):
        plan = refuse_unsigned(msg, party, facts, settings)
    else:
        plan = plan_customer_mail(msg, facts, decision, settings, now)
    return remembered(plan, msg, facts, settings)


def remembered(plan: Plan, msg: Inbound, facts: Facts, settings: Settings) -> Plan:
    """What every message from an address leaves behind, whatever its plan.

    Its text's fingerprint (to notice a robot repeating itself), and, from a
    person, the end of its bounce record: it can evidently receive mail again.
    """
    changes: list[Change] = []
    # only mail that did something counts: a refused agent may well send it again
    acted = plan.outcome in (OutcomeKind.NEW_TICKET, OutcomeKind.APPENDED)
    if facts.fingerprint and acted:
        changes.append(RememberText(msg.sender, facts.fingerprint))
    person = msg.sender and msg.classification.is_person
    if person and sender_verification(msg.mail, msg.envelope, settings):
        changes.append(ForgiveBounces(msg.sender))
    return replace(plan, changes=(*plan.changes, *changes)) if changes else plan
