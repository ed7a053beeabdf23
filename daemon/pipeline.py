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
from tierdesk.daemon.answers import saved_answers_for
from tierdesk.daemon.gather import gather
from tierdesk.daemon.logging_setup import about_message, message_fields
from tierdesk.daemon.outgoing.enqueue import queue_mails
from tierdesk.daemon.parsing import ParseFailure, ParseRunner
from tierdesk.daemon.similar_notice import with_similar_tickets
from tierdesk.daemon.snapshot import Live, Snapshot
from tierdesk.parsers.classify import classify
from tierdesk.parsers.parsed import ParsedMail
from tierdesk.parsers.subject import parse_subject
from tierdesk.rules.decision import Decision
from tierdesk.rules.handling.bounces import bounce_of, bounce_target
from tierdesk.rules.handling.decide import identify, plan_message
from tierdesk.rules.handling.facts import Customer, Facts, Inbound, Party
from tierdesk.rules.handling.outcome import (
    ALREADY_STORED,
    Outcome,
    OutcomeKind,
    outcome,
    quarantined,
)
from tierdesk.rules.handling.plan import Plan
from tierdesk.rules.handling.thread import needs_routing
from tierdesk.rules.handling.trust import envelope_of
from tierdesk.rules.route import NOT_ROUTED, route
from tierdesk.storage import spool
from tierdesk.storage.assign import is_known_contact, round_robin
from tierdesk.storage.carry_out import AlreadyStored, carry_out
from tierdesk.storage.claims import Claimant
from tierdesk.storage.clock import Clock, system_clock
from tierdesk.storage.conversation_locks import conversation_keys, lock_conversations
from tierdesk.storage.db import (
    first_database_error,
    is_connection_trouble,
    reset_connection,
)
from tierdesk.storage.search_memo import IndexMemo
from tierdesk.storage.sql import Sql
from tierdesk.storage.threads import ticket_of_message

log = logging.getLogger("tierdesk.pipeline")

# A race with another daemon on PostgreSQL or a dropped connection: retry later.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, IntegrityError)
BATCH = 50
COMMIT_GROUP = 16
# On PostgreSQL a group holds its conversations' locks until it commits, and
# other daemons may wait on them; there a commit costs less (concurrent
# commits share one WAL flush), so groups are smaller.
COMMIT_GROUP_POSTGRES = 4
LOAD_BYTES = 32 * 1024 * 1024  # raw mail loaded at once; more waits for the next round
HOUR = timedelta(hours=1)


@dataclass
class Pipeline:
    """The stages and what they need: storage, the configuration in force, a clock."""

    db: Database
    sql: Sql
    live: Live
    parser: ParseRunner
    clock: Clock = field(default=system_clock)
    claimant: Claimant = field(default_factory=Claimant)
    index_memo: IndexMemo = field(default_factory=IndexMemo)  # for similar tickets
    # told of each batch's outcomes once they are committed (the daemon's metrics)
    observer: Callable[[Sequence[int], Sequence[Outcome | None]], None] | None = None

    def process(self, spool_id: int) -> Outcome | None:
        """Run one spool item through every stage; None when it was not pending."""
        return self.process_many([spool_id])[0]

    def process_many(self, spool_ids: Sequence[int]) -> list[Outcome | None]:
        """Run spool items through every stage, committing them in small groups."""
        live = self.live.current  # one configuration for the whole batch
        outcomes: dict[int, Outcome | None] = {}
        rows: list[spool.SpoolRow] = []
        loaded = 0
        for spool_id in spool_ids:
            row = self._load(spool_id, live)
            if not isinstance(row, spool.SpoolRow):
                outcomes[spool_id] = row
                continue
            rows.append(row)
            loaded += len(row.raw)
            if loaded >= LOAD_BYTES:  # big mail: a few at a time, not a batch's worth
                outcomes.update(self._parse_and_handle(rows, live))
                rows, loaded = [], 0
        outcomes.update(self._parse_and_handle(rows, live))
        results = [outcomes.get(spool_id) for spool_id in spool_ids]
        if self.observer is not None:
            self.observer(spool_ids, results)
        return results

    def _parse_and_handle(
        self, rows: list[spool.SpoolRow], live: Snapshot
    ) -> dict[int, Outcome | None]:
        """Parse the loaded messages, then the other stages, in commit groups."""
        group_size = COMMIT_GROUP if self.sql.sqlite else COMMIT_GROUP_POSTGRES
        outcomes: dict[int, Outcome | None] = {}
        group: list[Inbound] = []

        def commit_what_is_parsed() -> None:
            # the next message is slow to parse: the ones before it go on meanwhile
            outcomes.update(self._handle_group(group, live))
            group.clear()

        parsed = self.parser.parse(
            [row.raw for row in rows],
            live.config.pipeline.parse_limits,
            on_wait=commit_what_is_parsed,
        )
        for row, mail in zip(rows, parsed, strict=True):
            if isinstance(mail, ParseFailure):
                outcomes[row.id] = self._set_aside(row.id, "", str(mail))
                continue
            group.append(self._classify(row, mail, live))
            if len(group) >= group_size:
                outcomes.update(self._handle_group(group, live))
                group.clear()
        outcomes.update(self._handle_group(group, live))
        return outcomes

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
            live.settings.own_list_ids,
        )
        subject = parse_subject(mail.subject, live.settings.subject_tag)
        verp = bounce_target(mail, envelope, live.own_addresses, live.keys)
        return Inbound(
            row.id,
            mail,
            classification,
            subject,
            recipients,
            row.mailbox,
            envelope,
            verp,
            bounce_of(row.raw, classification, verp),
        )

    def _handle(self, msg: Inbound, live: Snapshot) -> Outcome:
        """Stages 3-7 for one message."""
        now = self.clock()
        party = identify(msg, live.settings, live.keys)
        msg, facts = gather(self.sql, msg, party, live.settings, now)  # stage 4: thread
        facts = saved_answers_for(msg, party, facts, live)  # an agent's #answer
        decision = self._route(msg, party, facts, live, now)
        plan = plan_message(msg, party, facts, decision, live.settings, now)
        return self._persist(msg, plan, live, now)

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
            live.settings.limits,
            now,
        )
        if plan.quarantine:  # its events are kept; the message stays in the spool
            return quarantined(mail.message_id, plan.reason)
        limits = live.settings.limits
        memo = self.index_memo
        mails = with_similar_tickets(self.sql, live, ticket, plan.mails, now, memo)
        failures = queue_mails(self.sql, live.composer, ticket, mails, now, limits)
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
                lock_conversations(
                    self.sql, set().union(*(conversation_keys(m) for m in group))
                )
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
        # every line logged meanwhile, from any module, names the message
        with about_message(msg.spool_id, message_id):
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
        about = message_fields(spool_id, message_id)
        log.error("spool item %s quarantined: %s", spool_id, reason, extra=about)
        spool.quarantine(self.sql, spool_id, reason, message_id, self.clock())
        return quarantined(message_id, reason)

    def _transient_failure(self, msg: Inbound, exc: Exception) -> Outcome | None:
        exc = first_database_error(exc)
        reason = f"storage error: {type(exc).__name__}: {exc}"
        message_id = msg.mail.message_id
        try:
            if not is_connection_trouble(exc) and spool.note_transient_failure(
                self.sql, msg.spool_id, reason
            ):
                return self._set_aside(msg.spool_id, message_id, reason)
        except DatabaseError:
            reset_connection(self.db)
        about = message_fields(msg.spool_id, message_id)
        log.warning(
            "spool item %s will be retried: %s", msg.spool_id, reason, extra=about
        )
        return None

    def run_pending(
        self, limit: int = BATCH, stop: Callable[[], bool] = lambda: False
    ) -> int:
        """Process up to `limit` pending items; returns how many were disposed of."""
        if stop():
            return 0
        try:
            claimed = spool.claim_pending(self.sql, self.claimant, limit)
        except DatabaseError as exc:  # a full disk, or the database is away
            reset_connection(self.db)
            log.warning(
                "cannot take waiting messages now, will retry: %s",
                first_database_error(exc),
            )
            return 0
        outcomes = self.process_many(claimed)
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
        extra=message_fields(msg.spool_id, msg.mail.message_id, result.ticket),
    )
