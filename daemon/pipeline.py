"""The pipeline: one spooled message through parse → classify → thread → route → apply.

The order is here and only here. Parsing happens outside the transaction;
threading, routing and applying happen inside one, which also marks the
spool item done, so running the pipeline twice on an item changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from peewee import (
    Database,
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from daemon.compose import Composer, is_deliverable_address
from daemon.config import Config
from daemon.templating import TemplateFailure
from parsers.classify import classify
from parsers.parse import parse_mail
from parsers.parsed import Classification, ParsedMail
from parsers.subject import parse_subject
from rules.guard import automatic_mail_refusal
from rules.route import route
from storage import spool
from storage.apply import CannotCompose, Incoming, Outcome, apply_incoming
from storage.db import reset_connection
from storage.outbox import OutgoingMail
from storage.threads import find_thread
from storage.tickets import TicketFacts

log = logging.getLogger("tierdesk.pipeline")

TRANSIENT_ERRORS = (OperationalError, InterfaceError, IntegrityError)


@dataclass
class Pipeline:
    """Everything the stages need, built once from the configuration."""

    db: Database
    config: Config
    composer: Composer
    instance_id: str

    @property
    def own_addresses(self) -> frozenset[str]:
        """Our support addresses, lower-cased."""
        return frozenset(a.lower() for a in self.config.support.addresses)

    def process(self, spool_id: int) -> Outcome | None:
        """Run one spool item through every stage; None when it was not pending."""
        item = spool.load(spool_id)
        if item is None or item.state != "new":
            return None
        if item.size > self.config.smtp.max_message_size:
            reason = f"message of {item.size} bytes exceeds max_message_size ({self.config.smtp.max_message_size})"
            spool.quarantine(self.db, spool_id, reason)
            return Outcome("quarantined", None, "", reason)
        mail = None
        try:
            mail = parse_mail(bytes(item.raw))
            classification = classify(
                mail, item.mail_from, self.own_addresses, self.instance_id
            )
            subject = parse_subject(mail.subject, self.config.support.subject_tag)
            recipients = json.loads(item.rcpt_tos or "[]")
            with self.db.atomic():
                if not spool.lock_pending(self.db, spool_id):
                    return None
                match = find_thread(
                    mail.message_id, subject.ticket, mail.in_reply_to, mail.references
                )
                decision = route(
                    mail,
                    classification,
                    tuple(self.config.support.languages),
                    self.config.support.default_language,
                )
                incoming = Incoming(
                    mail,
                    subject.title,
                    classification,
                    match,
                    decision,
                    spool_id,
                    recipients,
                )
                outcome = apply_incoming(incoming, _Acknowledger(self))
                spool.mark_done(
                    spool_id,
                    outcome.outcome,
                    mail.message_id,
                    outcome.ticket_id,
                    outcome.reason,
                )
        except TRANSIENT_ERRORS as exc:
            reset_connection(self.db)
            return self._transient_failure(spool_id, mail, exc)
        except Exception as exc:
            log.exception("spool item %s quarantined", spool_id)
            reason = f"pipeline error: {type(exc).__name__}: {exc}"
            message_id = mail.message_id if mail else ""
            spool.quarantine(self.db, spool_id, reason, message_id)
            return Outcome("quarantined", None, message_id, reason)
        log.info(
            "spool %s %s ticket=%s %s%s",
            spool_id,
            outcome.outcome,
            outcome.ticket,
            mail.message_id,
            f" ({outcome.reason})" if outcome.reason else "",
        )
        return outcome

    def _transient_failure(
        self, spool_id: int, mail: ParsedMail | None, exc: Exception
    ) -> Outcome | None:
        reason = f"storage error: {type(exc).__name__}: {exc}"
        message_id = mail.message_id if mail else ""
        try:
            give_up = spool.note_transient_failure(self.db, spool_id, reason)
            if give_up:
                spool.quarantine(self.db, spool_id, reason, message_id)
                return Outcome("quarantined", None, message_id, reason)
        except DatabaseError:
            reset_connection(self.db)
        log.warning("spool item %s will be retried: %s", spool_id, reason)
        return None

    def run_pending(
        self, limit: int = 50, stop: Callable[[], bool] = lambda: False
    ) -> int:
        """Process up to `limit` pending items; returns how many were disposed of."""
        done = 0
        for spool_id in spool.pending_ids(limit):
            if stop():
                break
            if self.process(spool_id) is not None:
                done += 1
        return done

    def drain(self) -> int:
        """Process pending items until none is left or none makes progress."""
        total = 0
        while processed := self.run_pending():
            total += processed
        return total


def outcome_of(spool_id: int) -> Outcome | None:
    """The recorded outcome of a spool item that some pipeline already processed."""
    item = spool.load(spool_id)
    if item is None or item.state == "new":
        return None
    number = item.ticket.number if item.ticket_id else None
    return Outcome(
        item.outcome or item.state, number, item.message_id, item.error, item.ticket_id
    )


class _Acknowledger:
    """Connects the apply stage to the loop guard and the composer."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def refusal(
        self, classification: Classification, address: str, sent_last_hour: int
    ) -> str | None:
        return automatic_mail_refusal(
            classification,
            address,
            self.pipeline.own_addresses,
            is_deliverable_address(address),
            sent_last_hour,
            self.pipeline.config.support.auto_replies_per_hour,
        )

    def compose(
        self, ticket: TicketFacts, mail: ParsedMail, language: str
    ) -> OutgoingMail:
        try:
            return self.pipeline.composer.acknowledgement(ticket, mail, language)
        except TemplateFailure as exc:
            raise CannotCompose(str(exc)) from exc
