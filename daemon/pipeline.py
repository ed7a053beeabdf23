"""The pipeline: a spooled message through its stages, in this order and only here.

    load → parse → classify → identify → thread → route → plan → persist

Parsing runs in worker processes and, with classifying, outside any
transaction. The other stages of a message run in one savepoint of a group
transaction that also marks the spool item done: running the pipeline twice
on an item changes nothing, several items share one durable commit, and one
bad message never takes the others down with it. `identify` and `plan` are
pure (`rules.handling`); `thread` and `route` gather what the plan needs to
know; `persist` carries the plan out (`storage.carry_out`) and renders its
mails into the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from peewee import (
    Database,
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from tierdesk.daemon.outgoing.enqueue import queue_mails
from tierdesk.daemon.parsing import ParseFailure, ParseRunner
from tierdesk.daemon.snapshot import Live, Snapshot
from tierdesk.parsers.classify import classify
from tierdesk.parsers.parsed import ParsedMail
from tierdesk.parsers.subject import parse_subject
from tierdesk.rules.decision import Decision
from tierdesk.rules.handling.agent import tickets_named_by
from tierdesk.rules.handling.decide import identify, plan_message
from tierdesk.rules.handling.facts import (
    ClaimedAgent,
    Customer,
    Facts,
    Inbound,
    Party,
    ThreadMatch,
    UnsignedAgent,
)
from tierdesk.rules.handling.outcome import (
    ALREADY_STORED,
    Outcome,
    OutcomeKind,
    outcome,
    quarantined,
)
from tierdesk.rules.handling.plan import Plan
from tierdesk.rules.handling.thread import (
    is_a_status_request,
    needs_routing,
    strangers_stay_out,
    too_late_to_reopen,
)
from tierdesk.rules.handling.trust import envelope_of
from tierdesk.rules.route import NOT_ROUTED, route
from tierdesk.storage import spool
from tierdesk.storage.assign import is_known_contact, round_robin
from tierdesk.storage.carry_out import AlreadyStored, carry_out
from tierdesk.storage.clock import Clock, system_clock
from tierdesk.storage.db import reset_connection
from tierdesk.storage.participants import participants_of
from tierdesk.storage.sql import Sql
from tierdesk.storage.threads import (
    find_duplicate,
    find_thread,
    last_customer_text,
    notice_texts,
    open_tickets_of,
    recent_tickets_of,
    resolved_at,
    thread_by_signature,
    ticket_of_message,
)
from tierdesk.storage.tickets import ticket_by_number

log = logging.getLogger("tierdesk.pipeline")

# A race with another daemon on PostgreSQL or a dropped connection: retry later.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, IntegrityError)
BATCH = 50
COMMIT_GROUP = 16
HOUR = timedelta(hours=1)


@dataclass
class Pipeline:
    """The stages and what they need: storage, the configuration in force, a clock."""

    db: Database
    sql: Sql
    live: Live
    parser: ParseRunner
    clock: Clock = field(default=system_clock)

    def process(self, spool_id: int) -> Outcome | None:
        """Run one spool item through every stage; None when it was not pending."""
        return self.process_many([spool_id])[0]

    def process_many(self, spool_ids: Sequence[int]) -> list[Outcome | None]:
        """Run spool items through every stage, committing them in small groups."""
        live = self.live.current  # one configuration for the whole batch
        outcomes: dict[int, Outcome | None] = {}
        rows = []
        for spool_id in spool_ids:
            row = self._load(spool_id, live)
            if isinstance(row, spool.SpoolRow):
                rows.append(row)
            else:
                outcomes[spool_id] = row
        group: list[Inbound] = []
        for row, mail in zip(
            rows, self.parser.parse([row.raw for row in rows]), strict=True
        ):
            if isinstance(mail, ParseFailure):
                outcomes[row.id] = self._set_aside(row.id, "", str(mail))
                continue
            group.append(self._classify(row, mail, live))
            if len(group) >= COMMIT_GROUP:
                outcomes.update(self._handle_group(group, live))
                group = []
        outcomes.update(self._handle_group(group, live))
        return [outcomes.get(spool_id) for spool_id in spool_ids]

    # -- the stages, in order ------------------------------------------------

    def _load(self, spool_id: int, live: Snapshot) -> spool.SpoolRow | Outcome | None:
        """Stage 0: the spooled bytes (a message over the size limit goes no further)."""
        item = spool.load(self.sql, spool_id)
        if item is None or item.state != "new":
            return None
        limit = live.config.smtp.max_message_size
        if item.size > limit:
            reason = f"message of {item.size} bytes exceeds max_message_size ({limit})"
            return self._set_aside(spool_id, "", reason)
        return item

    def _classify(
        self, row: spool.SpoolRow, mail: ParsedMail, live: Snapshot
    ) -> Inbound:
        """Stage 2 (stage 1, parse, ran in the ParseRunner): person or robot, the
        subject, and what our own servers vouch for (the envelope)."""
        recipients = tuple(row.rcpt_tos)
        from_imap = row.source == "imap"
        trust = live.settings.trust_for(row.mailbox)
        envelope = envelope_of(mail, row.mail_from, recipients, from_imap, trust)
        classification = classify(
            mail,
            envelope.sender if from_imap else row.mail_from,
            live.own_addresses,
            live.composer.instance_id,
        )
        subject = parse_subject(mail.subject, live.settings.subject_tag)
        return Inbound(
            row.id, mail, classification, subject, recipients, row.mailbox, envelope
        )

    def _handle(self, msg: Inbound, live: Snapshot) -> Outcome:
        """Stages 3-7 for one message."""
        now = self.clock()
        party = identify(msg, live.settings, live.keys)
        facts = self._thread(msg, party, live, now)
        decision = self._route(msg, party, facts, live, now)
        plan = plan_message(msg, party, facts, decision, live.settings, now)
        return self._persist(msg, plan, live, now)

    def _thread(
        self, msg: Inbound, party: Party, live: Snapshot, now: datetime
    ) -> Facts:
        """Stage 4: the ticket the message belongs to, and what else its plan depends on."""
        sql, mail, settings = self.sql, msg.mail, live.settings
        if isinstance(party, ClaimedAgent):
            ticket = ticket_by_number(sql, party.target.ticket)
            named = {n: ticket_by_number(sql, n) for n in tickets_named_by(msg)}
            return Facts(
                match=ThreadMatch(
                    ticket,
                    "signed address",
                    duplicate=find_duplicate(sql, mail.message_id),
                ),
                named_tickets={n: t for n, t in named.items() if t is not None},
                last_customer_text=last_customer_text(sql, ticket.id) if ticket else "",
                sent_notices=notice_texts(sql, ticket.id) if ticket else (),
            )
        signed = party.signed_ticket if isinstance(party, Customer) else None
        if signed is not None and not find_duplicate(sql, mail.message_id):
            match = thread_by_signature(sql, signed)
        else:
            match = find_thread(
                sql,
                mail.message_id,
                msg.subject.ticket,
                mail.in_reply_to,
                mail.references,
            )
        if isinstance(party, UnsignedAgent):
            return Facts(match=match)
        when_resolved = resolved_at(sql, match.ticket) if match.ticket else None
        match = too_late_to_reopen(msg, match, when_resolved, now, settings)
        participants = (
            participants_of(sql, match.ticket.id) if match.ticket else frozenset()
        )
        match = strangers_stay_out(msg, match, participants, settings)
        if match.ticket is not None or match.duplicate or not msg.sender:
            return Facts(match=match, participants=participants)
        # it may open a ticket, or ask for the list of the sender's tickets
        opened, latest = recent_tickets_of(sql, msg.sender, now - HOUR)
        asks = is_a_status_request(msg, match, settings)
        return Facts(
            match=match,
            open_tickets=tuple(open_tickets_of(sql, msg.sender)) if asks else (),
            tickets_opened_last_hour=opened,
            latest_ticket=latest,
        )

    def _route(
        self, msg: Inbound, party: Party, facts: Facts, live: Snapshot, now: datetime
    ) -> Decision:
        """Stage 5: the rules, for a message that would open a ticket."""
        settings = live.settings
        if not isinstance(party, Customer) or not needs_routing(
            msg, facts.match, settings
        ):
            return NOT_ROUTED.decision
        decision = route(
            live.rules,
            msg.mail,
            msg.classification,
            recipients=msg.recipients,
            mailbox=msg.mailbox,
            origin_queue={m.name: m.queue for m in live.config.imap}.get(msg.mailbox),
            known_customer=bool(msg.sender) and is_known_contact(self.sql, msg.sender),
            languages=settings.languages,
            default_language=settings.default_language,
            now=now,
        ).decision
        if decision.assign_group and not decision.assignee:
            members = live.rules.groups.get(decision.assign_group, ())
            turn = round_robin(self.sql, decision.assign_group, members)
            decision = replace(decision, assignee=turn)
        return decision

    def _persist(
        self, msg: Inbound, plan: Plan, live: Snapshot, now: datetime
    ) -> Outcome:
        """Stage 7: carry the plan out and queue its mails, in the message's savepoint."""
        mail = msg.mail
        ticket = carry_out(
            self.sql,
            plan,
            mail,
            msg.spool_id,
            list(msg.recipients),
            live.rules.sla,
            now,
        )
        if plan.quarantine:  # its events are kept; the message stays in the spool
            return quarantined(mail.message_id, plan.reason)
        limits = live.settings.limits
        failures = queue_mails(self.sql, live.composer, ticket, plan.mails, now, limits)
        if failures and plan.if_unsent and ticket is None:
            reason = f"{plan.if_unsent}: {failures[0]}"
            return outcome(OutcomeKind.IGNORED, mail.message_id, reason)
        return outcome(
            plan.outcome,
            mail.message_id,
            plan.reason,
            ticket.number if ticket else None,
            ticket.id if ticket else None,
        )

    # -- transactions and failures -------------------------------------------

    def _handle_group(
        self, group: list[Inbound], live: Snapshot
    ) -> dict[int, Outcome | None]:
        """Several messages in one transaction (one durable commit)."""
        if not group:
            return {}
        outcomes: dict[int, Outcome | None] = {}
        try:
            with self.db.atomic():
                for msg in group:
                    outcomes[msg.spool_id] = self._handle_one(msg, live)
        except TRANSIENT_ERRORS as exc:
            reset_connection(self.db)
            if len(group) > 1:  # find the one that fails, let the others through
                for msg in group:
                    outcomes.update(self._handle_group([msg], live))
                return outcomes
            outcomes[group[0].spool_id] = self._transient_failure(group[0], exc)
        for msg in group:
            _log_outcome(msg, outcomes.get(msg.spool_id))
        return outcomes

    def _handle_one(self, msg: Inbound, live: Snapshot) -> Outcome | None:
        """One message in a savepoint of the group; the spool item records how it ended."""
        if not spool.lock_pending(self.sql, msg.spool_id):
            return None
        message_id = msg.mail.message_id
        try:
            with self.db.atomic():
                result = self._handle(msg, live)
        except (
            AlreadyStored
        ):  # stored meanwhile by another daemon: the savepoint undid all
            ticket = ticket_of_message(self.sql, message_id)
            result = outcome(
                OutcomeKind.DUPLICATE,
                message_id,
                ALREADY_STORED,
                ticket.number if ticket else None,
                ticket.id if ticket else None,
            )
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            log.exception("spool item %s quarantined", msg.spool_id)
            result = quarantined(
                message_id, f"pipeline error: {type(exc).__name__}: {exc}"
            )
        if result.kind is OutcomeKind.QUARANTINED:
            return self._set_aside(msg.spool_id, message_id, result.reason)
        spool.mark_done(
            self.sql,
            msg.spool_id,
            result.kind.value,
            message_id,
            result.ticket_id,
            result.reason,
            self.clock(),
        )
        return result

    def _set_aside(self, spool_id: int, message_id: str, reason: str) -> Outcome:
        """Quarantine a spool item with the reason; it is kept and can be retried."""
        log.error("spool item %s quarantined: %s", spool_id, reason)
        spool.quarantine(self.sql, spool_id, reason, message_id, self.clock())
        return quarantined(message_id, reason)

    def _transient_failure(self, msg: Inbound, exc: Exception) -> Outcome | None:
        reason = f"storage error: {type(exc).__name__}: {exc}"
        message_id = msg.mail.message_id
        try:
            if spool.note_transient_failure(self.sql, msg.spool_id, reason):
                return self._set_aside(msg.spool_id, message_id, reason)
        except DatabaseError:
            reset_connection(self.db)
        log.warning("spool item %s will be retried: %s", msg.spool_id, reason)
        return None

    def run_pending(
        self, limit: int = BATCH, stop: Callable[[], bool] = lambda: False
    ) -> int:
        """Process up to `limit` pending items; returns how many were disposed of."""
        if stop():
            return 0
        outcomes = self.process_many(spool.pending_ids(self.sql, limit))
        return sum(outcome is not None for outcome in outcomes)

    def drain(self) -> int:
        """Process pending items until none is left or none makes progress."""
        total = 0
        while processed := self.run_pending():
            total += processed
        return total


def _log_outcome(msg: Inbound, result: Outcome | None) -> None:
    if result is None:
        return
    reason = f" ({result.reason})" if result.reason else ""
    log.info(
        "spool %s %s ticket=%s <%s>%s",
        msg.spool_id,
        result.kind,
        result.ticket,
        msg.mail.message_id,
        reason,
    )


def outcome_of(sql: Sql, spool_id: int) -> Outcome | None:
    """The recorded outcome of a spool item that some pipeline already processed."""
    row = sql.one(
        "SELECT s.state, s.outcome, s.message_id, s.error, s.ticket_id, t.number"
        " FROM spool s LEFT JOIN ticket t ON t.id = s.ticket_id WHERE s.id = ?",
        spool_id,
    )
    if row is None or row[0] == "new":
        return None
    state, kind, message_id, error, ticket_id, number = row
    return outcome(kind or state, message_id, error, number, ticket_id)
