"""The SLA sweep, run by the scheduler every half minute: escalate, warn, auto-close.

Each ticket is handled in its own transaction, together with the mails it
causes, so a crash mid-sweep repeats nothing and loses nothing. `now` is a
parameter, so tests drive the clock instead of sleeping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tierdesk.daemon.outgoing.enqueue import queue_mails
from tierdesk.daemon.snapshot import Snapshot
from tierdesk.parsers.parsed import Address, Classification, MailKind
from tierdesk.rules.guard import automatic_mail_refusal
from tierdesk.rules.handling.facts import TicketFacts
from tierdesk.rules.handling.mails import agent_notice, customer_status, requester_of
from tierdesk.rules.handling.plan import MailSpec, Thread
from tierdesk.rules.sla import deadlines
from tierdesk.storage import sla as queries
from tierdesk.storage.changes import change_field, change_status
from tierdesk.storage.sql import Sql
from tierdesk.storage.tickets import record_event
from tierdesk.storage.watchers import watchers_of

log = logging.getLogger("tierdesk.sla")
HUMAN = Classification(MailKind.HUMAN)


@dataclass
class SweepReport:
    """What one sweep did."""

    escalated: list[int] = field(default_factory=list)
    breached: list[int] = field(default_factory=list)
    warned: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    # ("warning" | "escalation" | "breach", the ticket's tier then), for the metrics
    by_tier: list[tuple[str, int]] = field(default_factory=list)


class SlaSweeper:
    """Acts on deadlines stored on tickets; holds no state of its own."""

    def __init__(self, sql: Sql, snapshot: Snapshot) -> None:
        self.sql = sql
        self.snapshot = snapshot
        self.rules = snapshot.rules

    def sweep(self, now: datetime) -> SweepReport:
        """One pass over everything that is due at `now`."""
        report = SweepReport()
        for ticket in self._each(queries.overdue_first_response, now):
            self._escalate(ticket, now, report)
        for ticket in self._each(queries.due_warnings, now):
            self._warn(ticket, now, report)
        if self.rules.auto_close_after:
            before = now - timedelta(seconds=self.rules.auto_close_after)
            for ticket in self._each(queries.quiet_resolved, before):
                self._close(ticket, now, report)
        if report.escalated or report.warned or report.closed or report.breached:
            log.info(
                "SLA sweep: escalated %s, warned %s, closed %s, breached at the ceiling %s",
                report.escalated,
                report.warned,
                report.closed,
                report.breached,
            )
        return report

    def _each(
        self, query: Callable[..., list[TicketFacts]], at: datetime
    ) -> Iterator[TicketFacts]:
        """Tickets from `query`, one transaction each (held while the caller works on it)."""
        seen: set[int] = set()
        while True:
            with self.sql.db.atomic():
                batch = [
                    t
                    for t in query(self.sql, at, limit=len(seen) + 1)
                    if t.id not in seen
                ]
                if not batch:
                    return
                seen.add(batch[0].id)
                yield batch[0]

    def _escalate(
        self, ticket: TicketFacts, now: datetime, report: SweepReport
    ) -> None:
        if ticket.tier >= self.rules.escalation_ceiling:
            queries.restart_first_response(
                self.sql, ticket.id, None, None, escalated=False
            )
            record_event(
                self.sql,
                ticket.id,
                "sla",
                "sla_breached",
                detail=f"first response overdue at tier {ticket.tier}, the ceiling",
                now=now,
            )
            report.breached.append(ticket.number)
            report.by_tier.append(("breach", ticket.tier))
            return
        new_tier = ticket.tier + 1
        change_field(
            self.sql,
            ticket.id,
            "tier",
            new_tier,
            "sla",
            now,
            detail="first response overdue",
        )
        sla = self.sql.scalar("SELECT sla FROM ticket WHERE id = ?", ticket.id)
        again = deadlines(self.rules, sla, ticket.priority, now)
        queries.restart_first_response(
            self.sql, ticket.id, again.first_response, again.warn, escalated=True
        )
        self._notify_agents(
            replace(ticket, tier=new_tier),
            "escalation",
            f"escalation/{new_tier}",
            now,
            from_tier=ticket.tier,
        )
        report.escalated.append(ticket.number)
        report.by_tier.append(("escalation", ticket.tier))

    def _warn(self, ticket: TicketFacts, now: datetime, report: SweepReport) -> None:
        queries.mark_warned(self.sql, ticket.id, now)
        due = self.sql.scalar(
            "SELECT first_response_due_at FROM ticket WHERE id = ?", ticket.id
        )
        self._notify_agents(
            ticket,
            "sla_warning",
            f"warning/{ticket.tier}/{due}",
            now,
            due=str(due)[:16] + " UTC",
        )
        record_event(
            self.sql,
            ticket.id,
            "sla",
            "sla_warning",
            detail=f"first response due {str(due)[:16]} UTC",
            now=now,
        )
        report.warned.append(ticket.number)
        report.by_tier.append(("warning", ticket.tier))

    def _close(self, ticket: TicketFacts, now: datetime, report: SweepReport) -> None:
        change_status(
            self.sql,
            ticket.id,
            "closed",
            "sla",
            self.rules.sla,
            now,
            "resolved and quiet",
        )
        refusal = automatic_mail_refusal(
            HUMAN, ticket.requester_email, self.snapshot.settings.own_addresses
        )
        if refusal:
            record_event(
                self.sql,
                ticket.id,
                "sla",
                "status_mail_skipped",
                detail=refusal,
                now=now,
            )
        else:
            closed = customer_status(
                requester_of(ticket),
                "closed",
                f"closed/{now:%Y%m%d%H%M}",
                "closed after the quiet days",
                self._thread(ticket),
            )
            # the customer's watchers get the status mails an agent causes; this one too
            # (each copy within its limits, bouncing addresses left off, at queueing)
            watching = tuple(Address("", a) for a in watchers_of(self.sql, ticket.id))
            self._queue(ticket, [replace(closed, cc=watching)], now)
        report.closed.append(ticket.number)

    def _notify_agents(
        self,
        ticket: TicketFacts,
        template: str,
        cause: str,
        now: datetime,
        **extra: object,
    ) -> None:
        agents = self.rules.agents_of_tier(ticket.tier)
        if not agents:
            record_event(
                self.sql,
                ticket.id,
                "sla",
                f"{template}_unsent",
                detail=f"no agents on tier {ticket.tier}",
                now=now,
            )
            return
        thread = self._thread(ticket)
        language = self.snapshot.settings.default_language
        notices = [
            agent_notice(
                agent,
                template,
                cause,
                thread,
                language,
                f"{agent.name} is on tier {ticket.tier}",
                **extra,
            )
            for agent in agents
        ]
        self._queue(ticket, notices, now)

    def _thread(self, ticket: TicketFacts) -> Thread:
        root = queries.thread_root(self.sql, ticket.id)
        return Thread(root, (root,) if root else ())

    def _queue(self, ticket: TicketFacts, specs: list[MailSpec], now: datetime) -> None:
        limits = self.snapshot.settings.limits
        queue_mails(
            self.sql, self.snapshot.composer, ticket, specs, now, limits, actor="sla"
        )
