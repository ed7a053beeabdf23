"""The customer's files for the agents: carried by a notice up to a size, else listed and sent on request.

A notice or vendor hand-over carries the attachments it is about when their
total stays within `notices: attach_up_to`; above it, it names each with its
size and how to get them: `#files` in a reply, or a mail to support+files@
with the ticket token in the subject. Files only ever go to an agent's
configured address, never to whoever asked: a forged request can at most
mail an agent their own ticket's files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tierdesk.parsers.authres import dkim_or_dmarc_pass, domain_of
from tierdesk.parsers.commands import parse_commands
from tierdesk.parsers.parsed import MailAttachment
from tierdesk.rules.guard import address_key
from tierdesk.rules.handling.facts import ClaimedAgent, Facts, Inbound, UnsignedAgent
from tierdesk.rules.handling.file_sizes import batches, listing, size_text
from tierdesk.rules.handling.mails import agent_notice
from tierdesk.rules.handling.outcome import OutcomeKind
from tierdesk.rules.handling.plan import MailSpec, Plan, RecordEvent, Thread, ignore
from tierdesk.rules.handling.settings import Settings
from tierdesk.rules.handling.trust import sender_verification
from tierdesk.rules.model import Agent

FILES_TAG = "files"  # support+files@: the agents' address to ask for a ticket's files


def files_mails(
    agent: Agent,
    files: Sequence[MailAttachment],
    cause: str,
    language: str,
    limit: int,
) -> list[MailSpec]:
    """The ticket's files for one agent, in as many mails as the size limit needs.

    A file bigger than the limit on its own is named, with its size, in the
    first mail: it can only be had with `tierdesk` on the server.
    """
    groups, too_large = batches(files, limit)
    if not groups:
        groups = [[]]  # one mail still says there is nothing, or what is too big
    return [
        replace(
            agent_notice(
                agent,
                "files",
                f"{cause}/files/{number}",
                Thread.of([cause]),
                language,
                f"{agent.name} asked for the ticket's files",
                part=number,
                parts=len(groups),
                files=listing(group),
                too_large=listing(too_large) if number == 1 else [],
                limit=size_text(limit),
            ),
            attachments=tuple(group),
        )
        for number, group in enumerate(groups, start=1)
    ]


def is_files_request(msg: Inbound, settings: Settings) -> bool:
    """Mail whose envelope (or, without one, To/Cc) names support+files@."""
    recipients = msg.envelope.recipients or msg.recipients
    return any(_is_files_address(r, settings) for r in recipients)


def _is_files_address(address: str, settings: Settings) -> bool:
    local, _, domain = address.strip().lower().rpartition("@")
    base, plus, tag = local.partition("+")
    return (
        bool(plus)
        and tag == FILES_TAG
        and f"{base}@{domain}" in (address_key(a) for a in settings.own_addresses)
    )


def plan_files_request(
    msg: Inbound, party: object, facts: Facts, settings: Settings
) -> Plan | None:
    """A mail to support+files@: an agent gets the ticket's files; anyone else nothing.

    The agent must write from their own address, verified as for any
    automatic answer (and with DKIM/DMARC where an authserv-id is trusted);
    the files go to their configured address only.
    """
    if not is_files_request(msg, settings):
        return None
    ticket = facts.match.ticket
    if not isinstance(party, UnsignedAgent):
        return ignore(
            f"a files request from {msg.sender or '(nobody)'}, who is no agent"
        )
    agent = party.agent
    problem = _unverified(msg, settings)
    if problem:
        return ignore(f"files request of {agent.name} not answered: {problem}", ticket)
    if ticket is None:
        return ignore(f"files request of {agent.name} names no ticket in its subject")
    mails = files_mails(
        agent,
        facts.ticket_files,
        msg.mail.message_id,
        settings.default_language,
        settings.files_per_mail,
    )
    actor = f"agent:{agent.name}"
    detail = f"{len(facts.ticket_files)} file(s) in {len(mails)} mail(s)"
    return Plan(
        OutcomeKind.ANSWERED,
        f"files request: {detail}",
        ticket,
        changes=(RecordEvent(actor, "files_requested", detail),),
        mails=tuple(mails),
    )


def _unverified(msg: Inbound, settings: Settings) -> str | None:
    """Why the agent's From is not believed here, or None."""
    if sender_verification(msg.mail, msg.envelope, settings) is None:
        return "the sender is not verified"
    authserv = settings.trust_for(msg.mailbox).authserv_id
    if authserv:
        results = msg.envelope.authentication
        domain = domain_of(msg.sender)
        if results is None or dkim_or_dmarc_pass(results, domain) is None:
            return f"{authserv} reports no DKIM or DMARC pass for {domain}"
    return None


def wants_files(msg: Inbound, party: object, settings: Settings) -> bool:
    """Whether the plan needs the ticket's files: `#files`, a hand-over to a vendor
    (`#tier 4`), or an agent's mail to support+files@."""
    if isinstance(party, UnsignedAgent):
        return is_files_request(msg, settings)
    if not isinstance(party, ClaimedAgent):
        return False
    commands = parse_commands(msg.mail.text, msg.subject.args).commands
    return any(
        c.name == "files" or (c.name == "tier" and c.args == ("4",)) for c in commands
    )
