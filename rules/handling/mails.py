"""The mails handling can cause, as specs: to whom, from which template, and why.

Who hears about a ticket is decided here too: its assignee, else the agents
of its queue's group or its tier (`watchers`). Template variables that do not
depend on the ticket's stored state are filled in here; the composer adds
the ticket, its requester and our signed reply addresses when it renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tierdesk.parsers.parsed import Address, MailAttachment, ParsedMail
from tierdesk.parsers.quotes import strip_quoted
from tierdesk.rules.guard import is_deliverable_address
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.file_sizes import carried
from tierdesk.rules.handling.plan import MailSpec, ReplyAs, Thread
from tierdesk.rules.model import Agent, RuleSet

EXCERPT_CHARS = 3000
NO_TEXT = "(no text)"  # what a notice shows of a message without text
CUSTOMER = ReplyAs("customer")


def watchers(
    rules: RuleSet,
    tier: int,
    queue: str,
    assignee: str | None,
    except_agent: str | None = None,
) -> list[Agent]:
    """Who hears about a ticket: its assignee, else its queue's group or its tier."""
    assigned = rules.agents.get(assignee or "")
    agents = [assigned] if assigned else rules.agents_for(tier, queue)
    return [
        a
        for a in agents
        if a.name != except_agent and is_deliverable_address(a.address)
    ]


def author_of(mail: ParsedMail) -> str:
    """How a notice names whoever wrote `mail`."""
    return str(mail.from_) if mail.from_ else "(unknown sender)"


def to_customer(
    template: str,
    requester: Address,
    why: str,
    cause: str,
    thread: Thread | None,
    **details: Any,
) -> MailSpec:
    """A mail to a ticket's customer, whose reply threads back by their signed address."""
    kind = details.pop("kind", template)
    return MailSpec(
        kind, template, requester, why, cause, thread, reply_as=CUSTOMER, **details
    )


def acknowledgement(
    mail: ParsedMail, template: str, language: str, requester: Address
) -> MailSpec:
    """The acknowledgement of a new ticket, greeting the customer by the name they just used."""
    return to_customer(
        template,
        requester,
        "acknowledge the new ticket",
        mail.message_id,
        Thread.under(mail),
        kind="ack",
        language=language,
        context={
            "customer": {"name": requester.name, "email": requester.key},
            "message": {
                "subject": mail.subject,
                "excerpt": mail.text[:EXCERPT_CHARS],
            },
        },
        if_unrendered="ack_failed",
        echo_safe=True,
    )


def status_list(
    mail: ParsedMail, rows: list[dict[str, object]], language: str
) -> MailSpec:
    """The answer to a status request: the sender's open tickets."""
    assert mail.from_ is not None
    sender = Address(mail.from_.name, mail.from_.key)
    return MailSpec(
        kind="status",
        template="status_list",
        to=sender,
        why="answer a status request",
        cause=mail.message_id,
        thread=Thread.under(mail),
        language=language,
        context={"tickets": rows},
        echo_safe=True,
    )


def agent_notice(
    agent: Agent,
    template: str,
    cause: str,
    thread: Thread | None,
    language: str,
    why: str,
    mode: str = "reply",
    limit_class: str = "notice",
    **context: object,
) -> MailSpec:
    """A notice to one agent, threaded per ticket; replying to it acts as that agent.

    With mode "note", whatever answers it is a private note by construction.
    """
    return MailSpec(
        kind=template,
        template=template,
        to=Address(agent.display_name, agent.address),
        why=why,
        cause=f"{cause}/{agent.name}",
        thread=thread,
        language=language,
        reply_as=ReplyAs("agent", agent.name, mode),
        context={
            "agent": {"name": agent.display_name or agent.name, "id": agent.name},
            **context,
        },
        limit_class=limit_class,
        auto_submitted="auto-generated",
        if_unrendered="notice_failed",
    )


def message_notices(
    agents: Sequence[Agent],
    template: str,
    mail: ParsedMail,
    language: str,
    participant: bool = True,
    verified: bool = True,
    attach_up_to: int = 0,
) -> list[MailSpec]:
    """Notices of a customer's message (new ticket or reply), with its new text only,
    carrying its files up to `attach_up_to` bytes in all (above it: their sizes).

    `participant` False says plainly that the author does not belong on the ticket.
    """
    files = [a for a in mail.attachments if not a.inline]
    names = [a.filename for a in files]
    attached, shown = carried(files, attach_up_to)
    told = {"attachments": names, **shown}
    return [
        replace(spec, context={**spec.context, **told}, attachments=attached)
        for spec in _notices(agents, template, mail, language, participant, verified)
    ]


def _notices(
    agents: Sequence[Agent],
    template: str,
    mail: ParsedMail,
    language: str,
    participant: bool,
    verified: bool,
) -> list[MailSpec]:
    return [
        agent_notice(
            agent,
            template,
            mail.message_id,
            Thread.under(mail),
            language,
            f"{agent.name} watches the ticket",
            author=author_of(mail),
            author_email=mail.from_.key if mail.from_ else "",
            author_is_participant=participant,
            sender_verified=verified,
            text=strip_quoted(mail.text).strip() or NO_TEXT,
        )
        for agent in agents
    ]


def note_notices(
    agents: Sequence[Agent],
    author: str,
    text: str,
    attachments: list[str],
    cause: str,
    language: str,
) -> list[MailSpec]:
    """Tell the other watching agents about a private note (an agent's or a vendor's)."""
    return [
        agent_notice(
            agent,
            "notify_note",
            cause,
            None,
            language,
            f"{agent.name} watches the ticket",
            mode="note",
            author=author,
            text=text or NO_TEXT,
            attachments=attachments,
        )
        for agent in agents
    ]


def delivery_failed(agent: Agent, cause: str, language: str) -> MailSpec:
    """The short note to an agent that their answer did not go (the reason in `reason`)."""
    return agent_notice(
        agent,
        "delivery_failed",
        cause,
        Thread.of([]),
        language,
        f"{agent.name}'s answer did not go",
        limit_class="automatic",
    )


def agent_reply(
    agent: Agent,
    requester: Address,
    text: str,
    attachments: tuple[MailAttachment, ...],
    cause: str,
    language: str,
    new_status: str = "",
) -> MailSpec:
    """An agent's answer, sent to the customer from the support address; if it
    cannot go (an address we cannot write, a limit), the agent is told.

    `new_status`: the status the same mail set, told in the answer's last line."""
    name = agent.display_name or agent.name
    return to_customer(
        "reply",
        requester,
        f"{agent.name} answered",
        cause,
        None,
        context={"text": text, "agent": {"name": name}, "new_status": new_status},
        attachments=attachments,
        limit_class="relayed",
        auto_submitted=None,
        from_name=name,
        author=agent.name,
        fallback=delivery_failed(agent, f"{cause}/unsent", language),
    )


def customer_status(
    requester: Address, template: str, cause: str, why: str, thread: Thread | None
) -> MailSpec:
    """A status mail (resolved, closed, pending) to the ticket's requester."""
    return to_customer(
        template, requester, why, cause, thread, auto_submitted="auto-generated"
    )


def vendor_forward(
    vendor: Agent, summary: str, note: str, cause: str, language: str
) -> MailSpec:
    """The ticket handed to a vendor (tier 4); their answers come back as notes."""
    return MailSpec(
        kind="vendor",
        template="vendor",
        to=Address(vendor.display_name, vendor.address),
        why=f"handed to vendor {vendor.name}",
        cause=f"{cause}/{vendor.name}",
        thread=Thread.of([]),
        language=language,
        reply_as=ReplyAs("vendor", vendor.name),
        context={
            "vendor": {"name": vendor.display_name or vendor.name},
            "text": summary,
            "note": note,
        },
        limit_class="relayed",
        auto_submitted=None,
    )


def requester_of(ticket: TicketFacts) -> Address:
    """The ticket's customer as a mail recipient."""
    return Address(ticket.requester_name, ticket.requester_email)
