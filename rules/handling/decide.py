"""Who is writing, and the plan for their message: the two decisions the pipeline asks for."""

from __future__ import annotations

from datetime import datetime

from tierdesk.parsers.reply_address import KeyRing, first_signed, header_addresses
from tierdesk.rules.decision import Decision
from tierdesk.rules.handling.agent import plan_agent_mail
from tierdesk.rules.handling.authority import refuse_unsigned
from tierdesk.rules.handling.customer import plan_customer_mail
from tierdesk.rules.handling.facts import (
    ClaimedAgent,
    Customer,
    Facts,
    Inbound,
    Party,
    UnsignedAgent,
)
from tierdesk.rules.handling.plan import Plan
from tierdesk.rules.handling.settings import Settings


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
    if isinstance(party, ClaimedAgent):
        return plan_agent_mail(msg, party, facts, settings, now)
    if isinstance(party, UnsignedAgent):
        return refuse_unsigned(msg, party, facts, settings)
    return plan_customer_mail(msg, facts, decision, settings, now)
