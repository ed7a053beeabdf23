"""The pipeline: spooled messages through parse → classify → thread → route → apply.

The order is here and only here. Parsing and classifying happen outside any
transaction; threading, routing and applying happen inside one, which also
marks the spool item done, so running the pipeline twice on an item changes
nothing. Several items share one transaction (one durable commit), each in
its own savepoint, so one bad message never takes the others down with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from peewee import (
    Database,
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from tierdesk.daemon.config import Config
from tierdesk.daemon.outgoing.compose import Composer
from tierdesk.daemon.outgoing.mailer import Mailer
from tierdesk.daemon.parsing import ParseFailure, ParseRunner
from tierdesk.parsers.classify import classify
from tierdesk.parsers.commands import parse_commands
from tierdesk.parsers.parsed import Classification, MailKind, ParsedMail, SubjectInfo
from tierdesk.parsers.reply_address import ReplyTarget, signed_target
from tierdesk.parsers.subject import is_status_request, parse_subject
from tierdesk.rules.decision import Decision
from tierdesk.rules.model import Agent, RuleSet
from tierdesk.rules.route import NOT_ROUTED, route
from tierdesk.rules.sla import deadlines
from tierdesk.storage import spool
from tierdesk.storage.agent_apply import AgentMail, apply_agent_mail
from tierdesk.storage.apply import (
    Incoming,
    Outcome,
    answer_status_request,
    apply_incoming,
)
from tierdesk.storage.assign import is_known_contact, round_robin
from tierdesk.storage.db import reset_connection
from tierdesk.storage.sql import Sql
from tierdesk.storage.threads import (
    ThreadMatch,
    find_duplicate,
    find_thread,
    resolved_long_ago,
    thread_by_signature,
)
from tierdesk.storage.tickets import record_event, ticket_by_number

log = logging.getLogger("tierdesk.pipeline")

# A race with another daemon on PostgreSQL or a dropped connection: retry later.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, IntegrityError)
BATCH = 50
COMMIT_GROUP = 16


@dataclass(frozen=True)
class Parsed:
    """A spooled message after the parse and classify stages."""

    spool_id: int
    mail: ParsedMail
    classification: Classification
    subject: SubjectInfo
    recipients: list[str]
    mailbox: str


@dataclass
class Pipeline:
    """Everything the stages need, built once from the configuration."""

    db: Database
    sql: Sql
    config: Config
    composer: Composer
    instance_id: str
    parser: ParseRunner
    rules: RuleSet
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def own_addresses(self) -> frozenset[str]:
        """Our support addresses, lower-cased."""
        return frozenset(a.lower() for a in self.config.support.addresses)

    def process(self, spool_id: int) -> Outcome | None:
        """Run one spool item through every stage; None when it was not pending."""
        return self.process_many([spool_id])[0]

    def process_many(self, spool_ids: Sequence[int]) -> list[Outcome | None]:
        """Run spool items through every stage, committing them in small groups."""
        outcomes: dict[int, Outcome | None] = {}
        rows = []
        for spool_id in spool_ids:
            row = self._load(spool_id)
            if isinstance(row, spool.SpoolRow):
                rows.append(row)
            else:
                outcomes[spool_id] = row
        group: list[Parsed] = []
        for row, mail in zip(
            rows, self.parser.parse([row.raw for row in rows]), strict=True
        ):
            if isinstance(mail, ParseFailure):
                outcomes[row.id] = self._quarantine(row.id, str(mail))
                continue
            group.append(self._classify(row, mail))
            if len(group) >= COMMIT_GROUP:
                outcomes.update(self._apply_group(group))
                group = []
        outcomes.update(self._apply_group(group))
        return [outcomes.get(spool_id) for spool_id in spool_ids]

    def _load(self, spool_id: int) -> spool.SpoolRow | Outcome | None:
        item = spool.load(self.sql, spool_id)
        if item is None or item.state != "new":
            return None
        limit = self.config.smtp.max_message_size
        if item.size > limit:
            return self._quarantine(
                spool_id,
                f"message of {item.size} bytes exceeds max_message_size ({limit})",
            )
        return item

    def _quarantine(self, spool_id: int, reason: str) -> Outcome:
        log.error("spool item %s quarantined: %s", spool_id, reason)
        spool.quarantine(self.sql, spool_id, reason)
        return Outcome("quarantined", None, "", reason)

    def _classify(self, row: spool.SpoolRow, mail: ParsedMail) -> Parsed:
        """Stage 2 (stage 1, parse, ran in the ParseRunner)."""
        classification = classify(
            mail, row.mail_from, self.own_addresses, self.instance_id
        )
        subject = parse_subject(mail.subject, self.config.support.subject_tag)
        return Parsed(row.id, mail, classification, subject, row.rcpt_tos, row.mailbox)

    def _apply_group(self, group: list[Parsed]) -> dict[int, Outcome | None]:
        """Stages 3-5 for several messages in one transaction (one durable commit)."""
        if not group:
            return {}
        outcomes: dict[int, Outcome | None] = {}
        try:
            with self.db.atomic():
                for parsed in group:
                    outcomes[parsed.spool_id] = self._apply(parsed)
        except TRANSIENT_ERRORS as exc:
            reset_connection(self.db)
            if len(group) > 1:  # find the one that fails, let the others through
                for parsed in group:
                    outcomes.update(self._apply_group([parsed]))
                return outcomes
            outcomes[group[0].spool_id] = self._transient_failure(group[0], exc)
        for parsed in group:
            _log_outcome(parsed, outcomes.get(parsed.spool_id))
        return outcomes

    def _apply(self, parsed: Parsed) -> Outcome | None:
        """Stages 3-5 (thread, route, apply) for one item, in a savepoint of the batch."""
        if not spool.lock_pending(self.sql, parsed.spool_id):
            return None
        mail = parsed.mail
        try:
            with self.db.atomic():
                outcome = self._apply_one(parsed)
                if outcome.outcome != "quarantined":
                    spool.mark_done(
                        self.sql,
                        parsed.spool_id,
                        outcome.outcome,
                        mail.message_id,
                        outcome.ticket_id,
                        outcome.reason,
                    )
                return outcome
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            log.exception("spool item %s quarantined", parsed.spool_id)
            reason = f"pipeline error: {type(exc).__name__}: {exc}"
            spool.quarantine(self.sql, parsed.spool_id, reason, mail.message_id)
            return Outcome("quarantined", None, mail.message_id, reason)

    def _apply_one(self, parsed: Parsed) -> Outcome:
        mail = parsed.mail
        now = self.clock()
        mailer = Mailer(self.config, self.rules, self.composer)
        target = signed_target(
            parsed.recipients, mail, mailer.own_addresses, self.composer.secret
        )
        if target is not None and target.role != "customer":
            return self._from_agent(parsed, target, mailer, now)
        agent = self.rules.agent_by_address(mail.from_.key if mail.from_ else "")
        if agent is not None:
            return self._unsigned_agent_mail(parsed, agent)
        if target is not None and not find_duplicate(self.sql, mail.message_id):
            match = thread_by_signature(self.sql, target.ticket)
        else:
            match = find_thread(
                self.sql,
                mail.message_id,
                parsed.subject.ticket,
                mail.in_reply_to,
                mail.references,
            )
        human = parsed.classification.kind is MailKind.HUMAN
        window = now - timedelta(seconds=self.config.support.reopen_within)
        if (
            human
            and match.ticket
            and not match.duplicate
            and resolved_long_ago(self.sql, match.ticket, window)
        ):
            match = ThreadMatch(
                None, match.via, follows=match.ticket
            )  # too late to reopen: a new ticket
        if (
            human
            and match.ticket is None
            and not match.duplicate
            and is_status_request(
                mail.subject, mail.text, self.config.support.status_words
            )
        ):
            return answer_status_request(self.sql, mail, mailer)
        decision = self._route(parsed, match, now)
        if decision.action == "quarantine":
            reason = f"quarantined by rule {decision.matched_rules[-1]!r}"
            spool.quarantine(self.sql, parsed.spool_id, reason, mail.message_id)
            return Outcome("quarantined", None, mail.message_id, reason)
        incoming = Incoming(
            mail,
            parsed.subject.title,
            parsed.classification,
            match,
            decision,
            parsed.spool_id,
            parsed.recipients,
            deadlines(self.rules, decision.sla, decision.priority, now),
            self.rules.sla,
            now,
        )
        return apply_incoming(self.sql, incoming, mailer)

    def _from_agent(
        self, parsed: Parsed, target: ReplyTarget, mailer: Mailer, now: datetime
    ) -> Outcome:
        """Mail at an agent's or vendor's signed address: only they may use it."""
        mail = parsed.mail
        sender = self.rules.agents.get(target.name)
        from_address = mail.from_.key if mail.from_ else ""
        if sender is None or not _may_speak_for(sender, target.role, from_address):
            reason = f"mail to the signed address of {target.role} {target.name!r} came from {from_address!r}: not acted upon"
            ticket = ticket_by_number(self.sql, target.ticket)
            if ticket is not None:
                record_event(
                    self.sql,
                    ticket.id,
                    f"unverified:{from_address}",
                    "refused",
                    detail=reason,
                )
            log.warning("ticket %s: %s", target.ticket, reason)
            return Outcome(
                "ignored",
                target.ticket if ticket else None,
                mail.message_id,
                reason,
                ticket.id if ticket else None,
            )
        if find_duplicate(self.sql, mail.message_id):
            return Outcome.duplicate(
                ticket_by_number(self.sql, target.ticket), mail.message_id
            )
        commands = parse_commands(mail.text, parsed.subject.args)
        message = AgentMail(
            mail, target, sender, commands, parsed.spool_id, parsed.recipients, now
        )
        return apply_agent_mail(self.sql, message, self.rules, mailer)

    def _unsigned_agent_mail(self, parsed: Parsed, agent: Agent) -> Outcome:
        """An agent's address in From: without their signed address proves nothing: store nothing."""
        mail = parsed.mail
        reason = f"mail from agent {agent.name!r}'s address without a signed reply address: not acted upon"
        match = find_thread(
            self.sql,
            mail.message_id,
            parsed.subject.ticket,
            mail.in_reply_to,
            mail.references,
        )
        if match.ticket is not None and not match.duplicate:
            record_event(
                self.sql,
                match.ticket.id,
                f"unverified:{agent.address}",
                "refused",
                detail=reason,
            )
        number = match.ticket.number if match.ticket else None
        return Outcome(
            "ignored",
            number,
            mail.message_id,
            reason,
            match.ticket.id if match.ticket else None,
        )

    def _route(self, parsed: Parsed, match: ThreadMatch, now: datetime) -> Decision:
        """Stage 4: the rules, for a message that would open a ticket."""
        if match.ticket is not None or not parsed.classification.may_open_ticket:
            return NOT_ROUTED.decision
        support = self.config.support
        sender = parsed.mail.from_.key if parsed.mail.from_ else ""
        rules = self.rules
        decision = route(
            rules,
            parsed.mail,
            parsed.classification,
            recipients=tuple(parsed.recipients),
            mailbox=parsed.mailbox,
            origin_queue={m.name: m.queue for m in self.config.imap}.get(
                parsed.mailbox
            ),
            known_customer=bool(sender) and is_known_contact(self.sql, sender),
            languages=tuple(support.languages),
            default_language=support.default_language,
            now=now,
        ).decision
        if decision.assign_group and not decision.assignee:
            members = rules.groups.get(decision.assign_group, ())
            decision = replace(
                decision, assignee=round_robin(self.sql, decision.assign_group, members)
            )
        return decision

    def _transient_failure(self, parsed: Parsed, exc: Exception) -> Outcome | None:
        reason = f"storage error: {type(exc).__name__}: {exc}"
        message_id = parsed.mail.message_id
        try:
            if spool.note_transient_failure(self.sql, parsed.spool_id, reason):
                spool.quarantine(self.sql, parsed.spool_id, reason, message_id)
                return Outcome("quarantined", None, message_id, reason)
        except DatabaseError:
            reset_connection(self.db)
        log.warning("spool item %s will be retried: %s", parsed.spool_id, reason)
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


def _log_outcome(parsed: Parsed, outcome: Outcome | None) -> None:
    if outcome is None:
        return
    reason = f" ({outcome.reason})" if outcome.reason else ""
    log.info(
        "spool %s %s ticket=%s <%s>%s",
        parsed.spool_id,
        outcome.outcome,
        outcome.ticket,
        parsed.mail.message_id,
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
    state, outcome, message_id, error, ticket_id, number = row
    return Outcome(outcome or state, number, message_id, error, ticket_id)


def _may_speak_for(sender: Agent, role: str, from_address: str) -> bool:
    """An agent must write from their own address; a vendor from their domain."""
    if role == "agent":
        return from_address == sender.address
    return (
        from_address.rpartition("@")[2] == sender.address.rpartition("@")[2]
        and sender.tier == 4
    )
