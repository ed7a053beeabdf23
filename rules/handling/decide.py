"""Who is writing, and the plan for their message: the two decisions the pipeline asks for."""

from __future__ import annotations

from datetime import datetime

from tierdesk.parsers.reply_address import signed_target
from tierdesk.rules.decision import Decision
from tierdesk.rules.handling.agent import plan_agent_mail, plan_unsigned_agent_mail
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


def identify(msg: Inbound, settings: Settings, secret: bytes) -> Party:
    """A signed agent or vendor address makes a claimed agent; an agent's bare From proves nothing."""
    target = signed_target(
        list(msg.recipients), msg.mail, settings.own_addresses, secret
    )
    if target is not None and target.role != "customer":
        return ClaimedAgent(target, settings.rules.agents.get(target.name))
    agent = settings.rules.agent_by_address(msg.sender)
    if agent is not None:
        return UnsignedAgent(agent)
    return Customer(target.ticket if target is not None else None)


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
        return plan_unsigned_agent_mail(msg, party, facts)
    return plan_customer_mail(msg, facts, decision, settings, now)
