"""Customers copied on a ticket (its customer watchers): who they may be, and what they get.

People a customer copies on a request stay in the loop: an agent's answer
and the status mails it causes go to them as Cc on the same mail, and their
replies join the ticket as the customer's side. They get nothing else (no
acknowledgement, no status list), so copying a stranger on a request makes
the desk write to them only when an agent answers, and then within the same
per-address limits as any automatic mail (daemon/outgoing/cc_limits.py).
Our own addresses, agents and vendors, robots and addresses we cannot write
never become watchers; addresses that bounce are left off each mail.
"""

from __future__ import annotations

from dataclasses import replace

from tierdesk.parsers.classify import is_own_address
from tierdesk.parsers.commands import Command, CommandBlock
from tierdesk.parsers.parsed import Address
from tierdesk.rules.guard import address_key, is_deliverable_address, is_robot_address
from tierdesk.rules.handling.facts import Facts, Inbound, TicketFacts
from tierdesk.rules.handling.file_sizes import carried
from tierdesk.rules.handling.files import files_mails
from tierdesk.rules.handling.mails import CUSTOMER
from tierdesk.rules.handling.plan import Plan, SetWatchers
from tierdesk.rules.handling.settings import Settings
from tierdesk.rules.handling.thread import copied
from tierdesk.rules.handling.trust import sender_verification
from tierdesk.rules.model import Agent

MAX_WATCHERS = 10  # per ticket: a request copied to a whole address book is not a team
# the mails to the customer that their watchers get too (never the acknowledgement)
COPIED_KINDS = frozenset({"reply", "pending", "resolved", "closed"})


def why_not_a_watcher(address: str, settings: Settings) -> str | None:
    """Why `address` may never watch a ticket as a customer, or None."""
    if not is_deliverable_address(address) or is_robot_address(address):
        return "not an address we write to"
    if is_own_address(address, settings.own_addresses):
        return "our own address"
    domain = address_key(address).rpartition("@")[2]
    for agent in settings.rules.agents.values():
        if address_key(agent.address) == address_key(address):
            return f"the address of {agent.name}"
        if agent.tier == 4 and address_key(agent.address).endswith(f"@{domain}"):
            return f"the domain of vendor {agent.name}"
    return None


def new_watchers(msg: Inbound, facts: Facts, settings: Settings) -> tuple[str, ...]:
    """Whom a customer's mail copied (To and Cc) who may watch the ticket; not
    addresses that bounce.

    A sender we cannot verify adds nobody: their word is all that says who
    wants to hear from us.
    """
    if settings.require_verified_sender and not sender_verification(
        msg.mail, msg.envelope, settings
    ):
        return ()
    keys = [
        a
        for a in copied(msg.mail, settings)
        if why_not_a_watcher(a, settings) is None and a not in facts.bouncing
    ]
    return tuple(keys[:MAX_WATCHERS])


def cc_command_errors(
    commands: tuple[Command, ...], ticket: TicketFacts, settings: Settings
) -> list[str]:
    """Mistakes in `#cc` that only the rules and the ticket show."""
    errors = []
    for command in commands:
        if command.name != "cc":
            continue
        where = f"line {command.line}" if command.line else "subject"
        for change in command.args:
            address = change[1:]
            if change[0] == "-":
                continue
            if address_key(address) == address_key(ticket.requester_email):
                errors.append(f"{where}: #cc: {address} is the ticket's customer")
            elif problem := why_not_a_watcher(address, settings):
                errors.append(
                    f"{where}: #cc: {address} cannot watch a ticket ({problem})"
                )
    return errors


def watchers_after(facts: Facts, command: Command | None) -> tuple[str, ...]:
    """The ticket's customer watchers once `#cc` is applied."""
    current = list(facts.cc_watchers)
    for change in command.args if command else ():
        key = address_key(change[1:])
        if change[0] == "+" and key not in current:
            current.append(key)
        if change[0] == "-" and key in current:
            current.remove(key)
    return tuple(current[:MAX_WATCHERS])


def with_watchers(
    plan: Plan,
    msg: Inbound,
    agent: Agent,
    block: CommandBlock,
    facts: Facts,
    settings: Settings,
) -> Plan:
    """An agent's plan with its watchers on the customer's mails, `#cc` and `#files` applied,
    and the customer's files on a vendor hand-over."""
    commands = {c.name: c for c in block.commands}
    cc = commands.get("cc")
    watching = tuple(Address("", key) for key in watchers_after(facts, cc))
    ticket = plan.existing
    requester = address_key(ticket.requester_email) if ticket else ""
    mails = []
    for spec in plan.mails:
        if (
            spec.kind in COPIED_KINDS
            and spec.reply_as == CUSTOMER
            and address_key(spec.to.key) == requester
        ):
            spec = replace(spec, cc=watching)
        if spec.kind == "vendor":
            attached, shown = carried(facts.ticket_files, settings.attach_up_to)
            spec = replace(
                spec, attachments=attached, context={**spec.context, **shown}
            )
        mails.append(spec)
    changes = list(plan.changes)
    if cc is not None:
        add = tuple(address_key(c[1:]) for c in cc.args if c[0] == "+")
        remove = tuple(address_key(c[1:]) for c in cc.args if c[0] == "-")
        changes.append(SetWatchers(add, remove, f"agent:{agent.name}"))
    if "files" in commands:
        mails += files_mails(
            agent,
            facts.ticket_files,
            msg.mail.message_id,
            settings.default_language,
            settings.files_per_mail,
        )
    return replace(plan, mails=tuple(mails), changes=tuple(changes))
