"""Bounces and robots that repeat themselves: matched back, scored, and never answered.

A bounce to one of our VERP addresses names the outbox row it is about; one
without (an old or rewriting MTA) is tied to the latest mail we sent the
address it reports. Either way the ticket records the delivery failure, the
address is scored the way Mailman scores list members (hard 1.0, soft 0.5,
at most one a day, forgotten after a quiet week) and past a threshold gets
no more automatic mail until it writes to us again. A bounce never opens a
ticket and never gets mail; the agent whose answer bounced is told.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from tierdesk.parsers.bounce_address import looks_like_verp, read_verp
from tierdesk.parsers.bounces import BounceReport, read_bounce
from tierdesk.parsers.parsed import Classification, MailKind, ParsedMail
from tierdesk.parsers.reply_address import KeyRing, header_addresses
from tierdesk.rules.guard import address_key
from tierdesk.rules.handling.facts import Envelope, Facts, Inbound, SentMail
from tierdesk.rules.handling.mails import agent_notice
from tierdesk.rules.handling.outcome import ALREADY_STORED, OutcomeKind
from tierdesk.rules.handling.plan import (
    Change,
    MailSpec,
    MarkBounced,
    Plan,
    RecordEvent,
    ScoreBounce,
    StoreMessage,
    Thread,
)
from tierdesk.rules.handling.settings import Limits, Settings

RELAYED_KINDS = ("reply", "vendor")


@dataclass(frozen=True)
class BounceScore:
    """An address's bounce score as stored."""

    score: float = 0.0
    last_bounce_on: date | None = None
    suppressed_at: datetime | None = None


def next_bounce_score(
    state: BounceScore, hard: bool, now: datetime, limits: Limits
) -> BounceScore:
    """The score after one more bounce: hard 1.0, soft 0.5, at most one counted a day."""
    today = now.date()
    if state.last_bounce_on == today:
        return state
    stale = state.last_bounce_on is None or today - state.last_bounce_on > timedelta(
        seconds=limits.bounce_stale_after
    )
    score = (0.0 if stale else state.score) + (1.0 if hard else 0.5)
    suppressed = state.suppressed_at
    if suppressed is None and score >= limits.bounce_threshold:
        suppressed = now
    return BounceScore(score, today, suppressed)


def plan_bounce(msg: Inbound, facts: Facts, settings: Settings) -> Plan | None:
    """What a bounce about our own mail records; None when it is about none of ours."""
    report = msg.bounce or BounceReport()
    if not facts.bounced:
        return None
    if facts.match.duplicate:  # the same bounce delivered again: it counted once
        return Plan(OutcomeKind.DUPLICATE, ALREADY_STORED, facts.match.ticket)
    hard = report.hard
    why = report.diagnostic or "no reason given"
    changes: list[Change] = []
    mails: list[MailSpec] = []
    for sent in facts.bounced:
        failed = f"{sent.kind} to {sent.recipient} {'failed' if hard else 'is delayed'}: {why}"
        changes += [
            MarkBounced(sent.id, why),
            ScoreBounce(sent.recipient, hard, why),
        ]
        if sent.ticket is not None:
            changes.append(
                RecordEvent("mailer-daemon", "delivery_failed", failed, sent.ticket.id)
            )
        if hard and sent.kind in RELAYED_KINDS and sent.author:
            mails += _tell_the_author(sent, failed, settings)
    ticket = next((s.ticket for s in facts.bounced if s.ticket), None)
    reason = f"bounce: {'; '.join(f'#{s.id} to {s.recipient}' for s in facts.bounced)}: {why}"
    if ticket is None:
        return Plan(OutcomeKind.IGNORED, reason, None, changes=tuple(changes))
    return Plan(
        OutcomeKind.APPENDED,
        reason,
        ticket,
        StoreMessage("bounce"),
        tuple(changes),
        tuple(mails),
    )


def _tell_the_author(sent: SentMail, failed: str, settings: Settings) -> list[MailSpec]:
    """The agent whose answer bounced hears of it."""
    agent = settings.rules.agents.get(sent.author)
    if agent is None or sent.ticket is None:
        return []
    return [
        agent_notice(
            agent,
            "delivery_failed",
            f"bounce/{sent.id}",
            Thread.of([]),
            settings.default_language,
            f"{agent.name}'s answer bounced",
            limit_class="automatic",
            reason=failed,
        )
    ]


def repeated_text_is_a_robot(msg: Inbound, repeats: int, settings: Settings) -> Inbound:
    """A person who sends the same text again and again within the window is a robot.

    Auto-responders that set no header otherwise look like people, and two
    of them answering each other through us would never stop.
    """
    if not msg.classification.is_person:
        return msg
    limit = settings.limits.repeats_are_robots
    if repeats + 1 < limit:
        return msg
    hours = settings.limits.repeat_window / 3600
    reason = (
        f"the same text from {address_key(msg.sender)} {repeats + 1} times"
        f" within {hours:g} hours"
    )
    return replace(msg, classification=Classification(MailKind.AUTO_REPLY, reason))


def bounce_target(
    mail: ParsedMail, envelope: Envelope, own_addresses: frozenset[str], keys: KeyRing
) -> int | None:
    """The outbox row a bounce is about, when it came to one of our VERP addresses.

    Headers count here: only we can sign a VERP address, so a forged one proves nothing.
    """
    for address in _bounce_addresses(mail, envelope):
        if "+bounce-" in address.lower():
            outbox_id = read_verp(address, own_addresses, keys)
            if outbox_id is not None:
                return outbox_id
    return None


def sent_to_a_bounce_address(
    mail: ParsedMail, envelope: Envelope, own_addresses: frozenset[str]
) -> bool:
    """True when a mail came to an address of our VERP form, whether or not it verifies.

    A bounce there that `bounce_target` could not verify is forged (or signed
    with a key we no longer have): it must not fall back to the addresses it names.
    """
    return any(
        looks_like_verp(address, own_addresses)
        for address in _bounce_addresses(mail, envelope)
    )


def _bounce_addresses(mail: ParsedMail, envelope: Envelope) -> list[str]:
    """Where a bounce says it was sent: the envelope, To and Cc, and the delivery trace."""
    return [
        *envelope.recipients,
        *header_addresses(mail),
        *mail.trace_values("delivered-to"),
        *mail.trace_values("x-original-to"),
    ]


def bounce_of(
    raw: bytes, classification: Classification, verp: int | None
) -> BounceReport | None:
    """What a bounce reports; None for mail that is not one."""
    if classification.kind is MailKind.BOUNCE:
        return read_bounce(raw)
    if verp is None:
        return None
    # at a VERP address, only a report that names a failure is a bounce
    report = read_bounce(raw)
    return report if report.permanent or report.temporary or report.status else None
