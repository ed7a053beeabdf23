"""Mail from agents and vendors: who may act, and what their answers, notes and commands do.

An agent acts only through their own signed address and from their own
address; a vendor from their domain. An agent's mail is checked whole
before anything happens: one mistaken command line and nothing is applied,
nothing reaches the customer, and the agent gets a short answer listing what
was wrong. A vendor's answer is only ever a private note for the agents.
"""

from __future__ import annotations

from datetime import datetime

from tierdesk.parsers.commands import Command, CommandBlock, parse_commands
from tierdesk.parsers.quotes import strip_quoted
from tierdesk.parsers.sent_text import strip_sent
from tierdesk.rules.guard import is_deliverable_address
from tierdesk.rules.handling.agent_text import own_text_errors, with_saved_answer
from tierdesk.rules.handling.answer_list import answers_listing
from tierdesk.rules.handling.authority import authority_problem, refuse_claim
from tierdesk.rules.handling.commands import (
    assignee_named,
    check_commands,
    command_changes,
    merge_targets,
    ticket_after,
    vendor_for,
)
from tierdesk.rules.handling.facts import ClaimedAgent, Facts, Inbound, TicketFacts
from tierdesk.rules.handling.mails import (
    agent_notice,
    agent_reply,
    customer_status,
    note_notices,
    requester_of,
    vendor_forward,
    watchers,
)
from tierdesk.rules.handling.one_mail import status_telling
from tierdesk.rules.handling.outcome import ALREADY_STORED, OutcomeKind
from tierdesk.rules.handling.plan import (
    AddParticipants,
    Change,
    MailSpec,
    Plan,
    RecordEvent,
    SetStatus,
    StopFirstResponseClock,
    StoreMessage,
    Thread,
    append,
    ignore,
)
from tierdesk.rules.handling.settings import Settings
from tierdesk.rules.handling.watchers import cc_command_errors, with_watchers
from tierdesk.rules.model import Agent


def commands_of(msg: Inbound) -> CommandBlock:
    """The command block at the top of an agent's text, with the subject's [k=v] args."""
    return parse_commands(msg.mail.text, msg.subject.args)


def tickets_named_by(msg: Inbound) -> set[int]:
    """The tickets an agent's commands name, which the plan needs to know about."""
    return merge_targets(commands_of(msg).commands)


def plan_agent_mail(
    msg: Inbound, party: ClaimedAgent, facts: Facts, settings: Settings, now: datetime
) -> Plan:
    """Mail at an agent's or vendor's signed address: only they may use it, only a person acts."""
    ticket = facts.match.ticket
    target = party.target
    agent = party.agent
    problem = authority_problem(msg, party, settings, now)
    if problem is not None or agent is None:
        return refuse_claim(msg, party, facts, problem or "no such agent", settings)
    if facts.match.duplicate:
        return Plan(OutcomeKind.DUPLICATE, ALREADY_STORED, ticket)
    if ticket is None:
        return ignore(
            f"the signed address names ticket {target.ticket}, which does not exist"
        )
    if not msg.classification.is_person:
        return robot_note(msg, agent, target.role, ticket, facts)
    if target.role == "vendor":
        return vendor_note(msg, agent, ticket, facts, settings)
    block = commands_of(msg)
    own = new_text(block.body, facts)
    errors = [
        *block.errors,
        *check_commands(block.commands, settings.rules, ticket, facts.named_tickets),
        *own_text_errors(block, own, facts.saved_answers, settings),
        *cc_command_errors(block.commands, ticket, settings),
    ]
    if errors:
        return refuse(msg, agent, ticket, errors, settings)
    if any(c.name == "answers" for c in block.commands):
        return answers_listing(msg, agent, ticket, facts.saved_answers, settings)
    planned = act(msg, party, agent, ticket, block, facts, settings)
    return with_watchers(planned, msg, agent, block, facts, settings)


def new_text(text: str, facts: Facts) -> str:
    """What the agent wrote: whatever we sent them (in any client's quoting) and history removed."""
    return strip_quoted(strip_sent(text, facts.sent_notices)).strip()


def robot_note(
    msg: Inbound, agent: Agent, role: str, ticket: TicketFacts, facts: Facts
) -> Plan:
    """An agent's or vendor's auto-reply: a private note at most, never relayed, never a command."""
    kind = msg.classification
    actor = f"{role}:{agent.name}"
    kept = (
        f"automatic mail ({kind.kind.value}: {kind.reason}) kept as a private note; "
        "not relayed, no commands"
    )
    return append(
        f"{actor}: {kept}",
        ticket,
        StoreMessage("note", text=new_text(msg.mail.text, facts)),
        [RecordEvent(actor, "automatic_note", kept)],
        [],
    )


def refuse(
    msg: Inbound,
    agent: Agent,
    ticket: TicketFacts,
    errors: list[str],
    settings: Settings,
) -> Plan:
    """Nothing applied, nothing to the customer; the agent hears what was wrong."""
    cause = msg.mail.message_id
    summary = "; ".join(errors)
    answer = agent_notice(
        agent,
        "command_errors",
        cause,
        Thread.of([cause]),
        settings.default_language,
        "the agent's commands were refused",
        errors=errors,
    )
    return Plan(
        OutcomeKind.IGNORED,
        f"not applied: {summary}",
        ticket,
        changes=(RecordEvent(f"agent:{agent.name}", "agent_mail_refused", summary),),
        mails=(answer,),
    )


def act(
    msg: Inbound,
    party: ClaimedAgent,
    agent: Agent,
    ticket: TicketFacts,
    block: CommandBlock,
    facts: Facts,
    settings: Settings,
) -> Plan:
    """Store the answer or note, apply the commands, and send what they cause."""
    mail = msg.mail
    cause = mail.message_id
    commands = {c.name: c for c in block.commands}
    note = party.target.is_note or "comment" in commands
    text = with_saved_answer(new_text(block.body, facts), facts.saved_answers)
    actor = f"agent:{agent.name}"
    kind = "note" if note else "agent_reply"
    answered = not note and bool(text)
    status = commands.get("status")
    changes: list[Change] = [
        RecordEvent(
            actor,
            kind,
            f"{len(text)} characters, {len(mail.attachments)} attachment(s)",
        ),
        AddParticipants((agent.address,), "agent"),
        *command_changes(commands, agent, actor),
    ]
    if answered:
        changes.append(StopFirstResponseClock(actor))
    new_status = status.args[0] if status else None
    if new_status is None and answered and ticket.status == "new":
        new_status = "open"
    if new_status:
        changes.append(SetStatus(new_status, actor))
    after = ticket_after(ticket, commands, agent, facts.named_tickets)
    mails: list[MailSpec] = []
    told = status_telling(status.args[0] if status else None, note, answered)
    if answered:
        files = tuple(a for a in mail.attachments if not a.inline)
        mails.append(
            agent_reply(
                agent,
                requester_of(after),
                text,
                files,
                cause,
                settings.default_language,
                new_status=told.in_answer,
            )
        )
    if told.own_mail:
        mails.append(
            customer_status(
                requester_of(after),
                told.own_mail,
                f"{cause}/status",
                f"{agent.name} set the ticket {told.own_mail}",
                None,
            )
        )
    language = settings.default_language
    if note and text:
        names = [a.filename for a in mail.attachments if not a.inline]
        others = watchers(
            settings.rules, after.tier, after.queue, after.assignee, agent.name
        )
        mails += note_notices(others, agent.name, text, names, cause, language)
    mails += assignment_notice(commands, agent, ticket, cause, settings)
    if "tier" in commands and after.tier == 4:
        vendor = vendor_for(settings.rules, after.queue, commands.get("vendor"))
        assert vendor is not None  # check_commands made sure
        mails.append(
            vendor_forward(vendor, facts.last_customer_text, text, cause, language)
        )
        changes.append(
            RecordEvent(actor, "vendor", f"handed to {vendor.name} <{vendor.address}>")
        )
        changes.append(AddParticipants((vendor.address,), "vendor"))
    what = (
        "private note"
        if note
        else ("answer sent to the customer" if answered else "commands only")
    )
    return append(
        f"{actor}: {what}", ticket, StoreMessage(kind, text=text), changes, mails
    )


def assignment_notice(
    commands: dict[str, Command],
    author: Agent,
    ticket: TicketFacts,
    cause: str,
    settings: Settings,
) -> list[MailSpec]:
    """Tell an agent that the author just assigned the ticket to them."""
    if "assign" not in commands:
        return []
    name = assignee_named(commands["assign"], author)
    newcomer = settings.rules.agents.get(name or "")
    if (
        newcomer is None
        or newcomer.name in (ticket.assignee, author.name)
        or not is_deliverable_address(newcomer.address)
    ):
        return []
    return [
        agent_notice(
            newcomer,
            "notify_assigned",
            cause,
            None,
            settings.default_language,
            f"{author.name} assigned the ticket to {newcomer.name}",
            author=author.name,
        )
    ]


def vendor_note(
    msg: Inbound, vendor: Agent, ticket: TicketFacts, facts: Facts, settings: Settings
) -> Plan:
    """A vendor's answer: kept for the agents as a note, never sent to the customer."""
    mail = msg.mail
    text = new_text(mail.text, facts)
    actor = f"vendor:{vendor.name}"
    names = [a.filename for a in mail.attachments if not a.inline]
    agents = watchers(
        settings.rules, ticket.tier, ticket.queue, ticket.assignee, vendor.name
    )
    kept = RecordEvent(
        actor, "vendor_note", "kept for the agents; not sent to the customer"
    )
    notices = note_notices(
        agents, vendor.name, text, names, mail.message_id, settings.default_language
    )
    return append(
        f"{actor}: note for the agents",
        ticket,
        StoreMessage("vendor_note", text=text),
        [kept],
        notices,
    )
