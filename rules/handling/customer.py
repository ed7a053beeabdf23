"""Mail from anyone not acting as an agent: customers, robots, strangers.

The policies run in order and the first that has an answer makes the plan,
as a chain of Mailman rules does; a message none of them stops either opens
a ticket or joins the one it threads into.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tierdesk.parsers.language import detect_language
from tierdesk.parsers.parsed import Address, MailKind
from tierdesk.rules.decision import Decision
from tierdesk.rules.guard import address_key, automatic_mail_refusal
from tierdesk.rules.handling.facts import Facts, Inbound
from tierdesk.rules.handling.mails import (
    acknowledgement,
    message_notices,
    status_list,
    watchers,
)
from tierdesk.rules.handling.outcome import ALREADY_STORED, OutcomeKind
from tierdesk.rules.handling.plan import (
    AddParticipants,
    Change,
    FollowsUp,
    NewTicket,
    Plan,
    RecordEvent,
    SetStatus,
    StoreMessage,
    Touch,
    append,
    ignore,
)
from tierdesk.rules.handling.settings import Settings
from tierdesk.rules.handling.thread import is_a_status_request
from tierdesk.rules.handling.trust import sender_verification, unverified_reason
from tierdesk.rules.handling.watchers import new_watchers
from tierdesk.rules.sla import deadlines

REOPENING_STATUSES = ("pending", "resolved")

Policy = Callable[[Inbound, Facts, Decision, Settings], Plan | None]


def plan_customer_mail(
    msg: Inbound, facts: Facts, decision: Decision, settings: Settings, now: datetime
) -> Plan:
    """The first policy with an answer decides; otherwise open a ticket or join one."""
    for policy in POLICIES:
        plan = policy(msg, facts, decision, settings)
        if plan is not None:
            return plan
    if facts.match.ticket is None:
        return open_ticket(msg, facts, decision, settings, now)
    return join_ticket(msg, facts, settings)


def already_stored(
    msg: Inbound, facts: Facts, decision: Decision, settings: Settings
) -> Plan | None:
    """A Message-ID we stored before: nothing happens twice."""
    if facts.match.duplicate:
        return Plan(OutcomeKind.DUPLICATE, ALREADY_STORED, facts.match.ticket)
    return None


def status_request(
    msg: Inbound, facts: Facts, decision: Decision, settings: Settings
) -> Plan | None:
    """A customer asked for the state of their tickets: only theirs, by their verified address."""
    if not is_a_status_request(msg, facts.match, settings):
        return None
    refusal = automatic_mail_refusal(
        msg.classification, msg.sender, settings.own_addresses
    )
    if refusal is None and not sender_verification(msg.mail, msg.envelope, settings):
        refusal = unverified_reason(msg.mail, msg.envelope)
    if refusal:
        return ignore(f"status request not answered: {refusal}")
    rows = [
        {
            "token": f"[{settings.subject_tag} #{t.number}]",
            "subject": t.subject,
            "status": t.status,
            "tier": t.tier,
        }
        for t in facts.open_tickets
    ]
    language = detect_language(msg.mail, settings.languages, settings.default_language)
    return Plan(
        OutcomeKind.ANSWERED,
        f"status request: {len(rows)} open ticket(s) listed",
        mails=(status_list(msg.mail, rows, language),),
        if_unsent="status request not answered",
    )


def dropped_by_rule(
    msg: Inbound, facts: Facts, decision: Decision, settings: Settings
) -> Plan | None:
    """A rule said `drop`."""
    return ignore("dropped by a rule") if decision.action == "drop" else None


def quarantined_by_rule(
    msg: Inbound, facts: Facts, decision: Decision, settings: Settings
) -> Plan | None:
    """A rule said `quarantine`: the message is set aside for a person to look at."""
    if decision.action != "quarantine":
        return None
    reason = f"quarantined by rule {decision.matched_rules[-1]!r}"
    return Plan(OutcomeKind.QUARANTINED, reason, quarantine=True)


def our_own_mail_came_back(
    msg: Inbound, facts: Facts, decision: Decision, settings: Settings
) -> Plan | None:
    """Our own mail must never become a message, or it could loop."""
    kind = msg.classification
    if kind.kind is MailKind.LOOP:
        return ignore(f"our own mail came back ({kind.reason})")
    return None


def robot_without_ticket(
    msg: Inbound, facts: Facts, decision: Decision, settings: Settings
) -> Plan | None:
    """Auto-replies, bounces and lists only attach to a ticket; they never open one."""
    kind = msg.classification
    if facts.match.ticket is None and not kind.may_open_ticket:
        return ignore(f"{kind.kind.value}: {kind.reason}")
    return None


def no_usable_sender(
    msg: Inbound, facts: Facts, decision: Decision, settings: Settings
) -> Plan | None:
    """Without a From address there is nobody to file the message under."""
    return None if msg.sender else ignore("no usable From address")


def held_for_an_agent(
    msg: Inbound, facts: Facts, decision: Decision, settings: Settings
) -> Plan | None:
    """With `strangers: hold`, a non-participant's mail waits in the spool for an agent."""
    ticket = facts.match.ticket
    if ticket is None or not facts.match.stranger or settings.strangers != "hold":
        return None
    reason = f"held for an agent: {msg.sender} is not a participant of #{ticket.number}"
    return Plan(
        OutcomeKind.QUARANTINED,
        reason,
        ticket,
        changes=(RecordEvent(f"unverified:{msg.sender}", "held", reason),),
        quarantine=True,
    )


def too_many_new_tickets(
    msg: Inbound, facts: Facts, decision: Decision, settings: Settings
) -> Plan | None:
    """Past the hourly number of new tickets, more mail joins the sender's latest, quietly."""
    latest = facts.latest_ticket
    limit = settings.limits.new_tickets_per_hour
    if facts.match.ticket is not None or facts.tickets_opened_last_hour < limit:
        return None
    reason = (
        f"rate limit: {facts.tickets_opened_last_hour} tickets opened by "
        f"{address_key(msg.sender)} in the last hour"
    )
    if latest is None:
        return ignore(reason)
    kept = f"{reason}; kept on #{latest.number} without any automatic mail"
    return append(
        kept,
        latest,
        StoreMessage(message_kind(msg), remember_sender=True),
        [RecordEvent(actor_of(msg), "message", kept), Touch()],
        [],
    )


POLICIES: tuple[Policy, ...] = (
    already_stored,
    status_request,
    dropped_by_rule,
    quarantined_by_rule,
    our_own_mail_came_back,
    robot_without_ticket,
    no_usable_sender,
    held_for_an_agent,
    too_many_new_tickets,
)


def actor_of(msg: Inbound) -> str:
    """How the history names the sender: a customer, or the kind of robot."""
    kind = msg.classification
    who = "customer" if kind.is_person else kind.kind.value
    return f"{who}:{msg.sender}"


def message_kind(msg: Inbound) -> str:
    """What the stored message is: a customer's, or the kind of robot's."""
    kind = msg.classification.kind
    return "customer" if kind is MailKind.HUMAN else kind.value


def open_ticket(
    msg: Inbound, facts: Facts, decision: Decision, settings: Settings, now: datetime
) -> Plan:
    """A new ticket as routing decided, its acknowledgement, and notices to its watchers."""
    mail = msg.mail
    assert mail.from_ is not None
    requester = Address(mail.from_.name, msg.sender)
    actor = actor_of(msg)
    changes: list[Change] = [
        RecordEvent(actor, "created", routing_summary(msg.sender, decision)),
        AddParticipants((address_key(msg.sender),), "requester"),
    ]
    if copies := new_watchers(msg, facts, settings):
        changes.append(AddParticipants(copies, "cc"))
    if facts.match.follows is not None:
        changes.append(FollowsUp(facts.match.follows, actor, facts.match.stranger))
    mails = []
    refusal = ack_refusal(msg, decision, settings)
    if refusal:
        changes.append(RecordEvent("system", "ack_skipped", refusal))
    else:
        mails.append(
            acknowledgement(mail, decision.template, decision.language, requester)
        )
    agents = watchers(settings.rules, decision.tier, decision.queue, decision.assignee)
    verified = sender_verification(mail, msg.envelope, settings) is not None
    mails += message_notices(
        agents,
        "notify_new",
        mail,
        settings.default_language,
        verified=verified,
        attach_up_to=settings.attach_up_to,
    )
    return Plan(
        OutcomeKind.NEW_TICKET,
        # `tierdesk spool list` shows why a new ticket got no acknowledgement
        f"no acknowledgement: {refusal}" if refusal else "",
        NewTicket(
            msg.subject.title,
            requester,
            decision,
            deadlines(settings.rules, decision.sla, decision.priority, now),
        ),
        StoreMessage(message_kind(msg)),
        tuple(changes),
        tuple(mails),
    )


def ack_refusal(msg: Inbound, decision: Decision, settings: Settings) -> str | None:
    """Why a new ticket gets no acknowledgement, or None: robots, our own, unverified senders."""
    if not decision.acknowledge:
        return "routing says no acknowledgement"
    refusal = automatic_mail_refusal(
        msg.classification, msg.sender, settings.own_addresses
    )
    if refusal:
        return refusal
    if settings.require_verified_sender and not sender_verification(
        msg.mail, msg.envelope, settings
    ):
        return unverified_reason(msg.mail, msg.envelope)
    return None


def join_ticket(msg: Inbound, facts: Facts, settings: Settings) -> Plan:
    """A reply joins its ticket; a person's reply reopens it and tells its watchers.

    A stranger's mail appended under `strangers: append` is marked unverified
    and reopens nothing.
    """
    match = facts.match
    ticket = match.ticket
    assert ticket is not None
    actor = actor_of(msg)
    kind = message_kind(msg)
    person = msg.classification.is_person
    detail = f"{kind} via {match.via}"
    if match.stranger:
        detail += f" (unverified: {msg.sender} is not a participant)"
    changes: list[Change] = [RecordEvent(actor, "message", detail)]
    if person and not match.stranger and ticket.status in REOPENING_STATUSES:
        changes.append(SetStatus("open", actor, "customer replied"))
    else:
        changes.append(Touch())
    if person and not match.stranger and (copies := new_watchers(msg, facts, settings)):
        changes.append(AddParticipants(copies, "cc"))
    mails = []
    if person:
        agents = watchers(settings.rules, ticket.tier, ticket.queue, ticket.assignee)
        mails = message_notices(
            agents,
            "notify_reply",
            msg.mail,
            settings.default_language,
            participant=not match.stranger,
            attach_up_to=settings.attach_up_to,
        )
    return append(
        f"threaded by {match.via}" + (" (unverified)" if match.stranger else ""),
        ticket,
        StoreMessage(kind, remember_sender=True),
        changes,
        mails,
    )


def routing_summary(sender: str, decision: Decision) -> str:
    """The `created` event's detail: what routing decided, and which rules said so."""
    parts = [
        f"from {sender}",
        f"tier {decision.tier}",
        f"queue {decision.queue}",
        f"priority {decision.priority}",
    ]
    if decision.assignee:
        parts.append(f"assigned to {decision.assignee}")
    if decision.sla:
        parts.append(f"sla {decision.sla}")
    if decision.tags:
        parts.append("tags " + " ".join(decision.tags))
    rules = ", ".join(decision.matched_rules) or "none matched, the default applies"
    return ", ".join(parts) + f"; rules: {rules}"
