"""The outbox sender: delivers due outbox rows through the configured transport.

A temporary failure (4xx, connection refused, timeout) is retried with
exponential backoff; a permanent one (5xx) or too many attempts marks the row
failed with the error, records it on the ticket, and tells the agent whose
answer it was (the note to the agent names no author, so its own failure
tells nobody). A dead relay is logged once per change of state, not once per
mail. A mail whose address has a UTF-8 local part goes with SMTPUTF8 where
the relay offers it, and fails for good where it does not; a Maildir keeps
it as it is.
"""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
import ssl
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import TracebackType

from peewee import DatabaseError
from tierdesk.daemon.config import OutgoingConfig
from tierdesk.daemon.config_load import read_secret
from tierdesk.daemon.oauth2 import (
    RELAY,
    AccessTokens,
    RelayTokens,
    TokenUnavailable,
    tokens_for,
    xoauth2_response,
)
from tierdesk.daemon.outgoing.enqueue import queue_mails
from tierdesk.daemon.snapshot import Live
from tierdesk.parsers.idn import readable_address
from tierdesk.rules.handling.mails import delivery_failed
from tierdesk.storage import outbox
from tierdesk.storage.claims import Claimant
from tierdesk.storage.clock import Clock
from tierdesk.storage.db import reset_connection
from tierdesk.storage.outbox import OutboxRow
from tierdesk.storage.sql import Sql
from tierdesk.storage.tickets import record_event, ticket_by_id

log = logging.getLogger("tierdesk.sender")


class DeliveryError(Exception):
    """A mail could not be handed over; `permanent` says whether to retry."""

    def __init__(self, message: str, permanent: bool, relay_down: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.relay_down = relay_down


class MaildirTransport(AbstractContextManager["MaildirTransport"]):
    """Writes each mail as a file into a Maildir (the embedded default, for development)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)

    def __exit__(self, *exc: object) -> None:
        return None

    def deliver(self, item: OutboxRow) -> None:
        """Write the mail once: the name is fixed per outbox row, so a retry never duplicates."""
        digest = hashlib.sha256(item.message_id.encode()).hexdigest()[:12]
        name = f"tierdesk-{item.id:010d}-{digest}"
        if (self.path / "new" / name).exists() or any(
            (self.path / "cur").glob(f"{name}:*")
        ):
            return
        data = item.raw.replace(b"\r\n", b"\n")
        tmp = self.path / "tmp" / name
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path / "new" / name)
        except OSError as exc:
            message = f"cannot write to {self.path}: {exc.strerror}"
            raise DeliveryError(message, permanent=False, relay_down=True) from exc


class SmtpTransport(AbstractContextManager["SmtpTransport"]):
    """Hands mail to an SMTP relay, one connection per batch."""

    def __init__(
        self,
        config: OutgoingConfig,
        environ: dict[str, str] | None = None,
        tokens: AccessTokens | None = None,
    ) -> None:
        self.config = config
        self.environ = dict(os.environ) if environ is None else environ
        # with `oauth2`: the sender's cached tokens, or (check-config) fresh ones
        self.tokens = tokens
        if tokens is None and config.oauth2 is not None:
            self.tokens = tokens_for(RELAY, config.oauth2, None, environ=self.environ)
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        smtp: smtplib.SMTP | None = None
        try:
            # the OAuth2 token first: without one, no connection is made
            token = self.tokens.current() if self.tokens is not None else None
            if cfg.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    cfg.host,
                    cfg.port,
                    timeout=cfg.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
                if cfg.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if token is not None:
                self._xoauth2_login(smtp, token)
            else:
                password = read_secret(
                    cfg.password, cfg.password_file, cfg.password_env, self.environ
                )
                if cfg.username and password is not None:
                    smtp.login(cfg.username, password)
        except smtplib.SMTPAuthenticationError as exc:
            _close(smtp)
            if self.tokens is not None:
                self.tokens.forget()  # revoked? the next attempt gets a new token
            message = f"relay {cfg.host}:{cfg.port} refused the login: {exc.smtp_code}"
            raise DeliveryError(message, permanent=False, relay_down=True) from exc
        except TokenUnavailable as exc:
            message = f"relay {cfg.host}:{cfg.port}: no OAuth2 access token: {exc}"
            raise DeliveryError(message, permanent=False, relay_down=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            _close(smtp)
            message = f"relay {cfg.host}:{cfg.port} unreachable: {exc}"
            raise DeliveryError(message, permanent=False, relay_down=True) from exc
        assert smtp is not None  # set, or an exception was raised above
        return smtp

    def _xoauth2_login(self, smtp: smtplib.SMTP, token: str) -> None:
        """AUTH XOAUTH2; to the error challenge (334 + JSON) the answer is empty, giving 535."""
        response = xoauth2_response(self.config.username or "", token)
        smtp.ehlo_or_helo_if_needed()
        smtp.auth("XOAUTH2", lambda challenge=None: "" if challenge else response)

    def check(self) -> None:
        """Connect (and log in) once, then quit; raises DeliveryError."""
        with self:
            self._smtp = self._connect()

    def deliver(self, item: OutboxRow) -> None:
        """Send one mail; raises DeliveryError."""
        if self._smtp is None:
            self._smtp = self._connect()
        options = ["SMTPUTF8"] if item.needs_smtputf8 else []
        if options:
            self._require_smtputf8()
        try:
            refused = self._smtp.sendmail(
                item.mail_from, item.rcpt_tos, item.raw, mail_options=options
            )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"recipients refused: {exc.recipients}", permanent=min(codes) >= 500
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise DeliveryError(
                f"relay said {exc.smtp_code} {exc.smtp_error!r}", exc.smtp_code >= 500
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryError(
                f"relay connection failed: {exc}", permanent=False
            ) from exc
        if refused:
            log.warning("outbox %s: some recipients refused: %s", item.id, refused)

    def _require_smtputf8(self) -> None:
        """Raise a permanent DeliveryError unless the relay's EHLO offers SMTPUTF8."""
        assert self._smtp is not None
        try:
            self._smtp.ehlo_or_helo_if_needed()
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryError(
                f"relay connection failed: {exc}", permanent=False
            ) from exc
        if not self._smtp.has_extn("smtputf8"):
            cfg = self.config
            raise DeliveryError(
                f"relay does not offer SMTPUTF8 ({cfg.host}:{cfg.port}), which an"
                " address with a UTF-8 local part needs: relay through a server"
                " that does (Postfix: smtputf8_enable = yes)",
                permanent=True,
            )

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._smtp is not None:
            with suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._drop()


def _close(smtp: smtplib.SMTP | None) -> None:
    """Shut a connection whose login failed (it is not kept)."""
    if smtp is not None:
        with suppress(OSError):
            smtp.close()


def make_transport(
    config: OutgoingConfig, maildir: Path, tokens: AccessTokens | None = None
) -> MaildirTransport | SmtpTransport:
    """The transport the configuration asks for."""
    if config.transport == "smtp":
        return SmtpTransport(config, tokens=tokens)
    return MaildirTransport(maildir)


class Sender:
    """Delivers due outbox rows; call `deliver_due` whenever something may be due.

    `live` is the configuration in force: it names the agents to tell and
    renders what they are told.
    """

    def __init__(
        self,
        sql: Sql,
        maildir: Path,
        clock: Clock,
        live: Live,
        claimant: Claimant | None = None,
    ) -> None:
        self.sql = sql
        self.maildir = maildir
        self.clock = clock
        self.live = live
        self.claimant = Claimant() if claimant is None else claimant
        # told of each failed delivery, and whether it was given up (the metrics)
        self.on_failure: Callable[[bool], None] | None = None
        self._relay_down = False
        self.relay_tokens = RelayTokens(sql)  # cached for the life of the daemon

    def deliver_due(self, config: OutgoingConfig, limit: int = 100) -> int:
        """Deliver what is due now through `config`'s transport; returns how many were handed over."""
        try:
            items = outbox.claim_due(self.sql, self.clock(), self.claimant, limit=limit)
        except DatabaseError as exc:  # a full disk, or the database is away
            reset_connection(self.sql.db)
            log.warning("cannot take due mail now, will retry: %s", exc)
            return 0
        if not items:
            return 0
        delivered = 0
        tokens = self.relay_tokens.get(config.oauth2)
        with make_transport(config, self.maildir, tokens) as transport:
            for item in items:
                try:
                    transport.deliver(item)
                except DeliveryError as exc:
                    self._record_failure(item, exc, config)
                    if exc.relay_down:
                        break
                    continue
                with self.sql.db.atomic():
                    outbox.mark_sent(self.sql, item.id, self.clock())
                delivered += 1
                self._relay_state(down=False, detail="")
        return delivered

    def _record_failure(
        self, item: OutboxRow, exc: DeliveryError, config: OutgoingConfig
    ) -> None:
        attempts = item.attempts + 1
        given_up = exc.permanent or attempts >= config.max_attempts
        with self.sql.db.atomic():
            if given_up:
                outbox.mark_failed(self.sql, item.id, str(exc))
                log.error(
                    "outbox %s to %s failed for good: %s", item.id, item.rcpt_tos, exc
                )
                self._tell_in_savepoint(item, str(exc))
            else:
                delay = min(config.retry_base * 2 ** (attempts - 1), config.retry_max)
                outbox.mark_retry(
                    self.sql,
                    item.id,
                    str(exc),
                    timedelta(seconds=delay),
                    self.clock(),
                )
        if self.on_failure is not None:
            self.on_failure(given_up)
        if not exc.permanent:
            self._relay_state(down=True, detail=str(exc))

    def _tell_in_savepoint(self, item: OutboxRow, reason: str) -> None:
        """`_tell`, whose own failure is logged and never undoes the `failed` mark:
        a row left pending would be tried, and fail, for ever."""
        try:
            with self.sql.db.atomic():
                self._tell(item, reason)
        except Exception:
            log.exception("outbox %s: cannot record its failure on the ticket", item.id)

    def _tell(self, item: OutboxRow, reason: str) -> None:
        """A mail given up: the ticket records it and the agent who wrote it is told,
        in the transaction that marks it failed."""
        ticket = ticket_by_id(self.sql, item.ticket_id) if item.ticket_id else None
        if ticket is None:
            return
        now = self.clock()
        to = ", ".join(readable_address(r) for r in item.rcpt_tos)
        failed = f"{item.kind} to {to} failed: {reason}"
        record_event(
            self.sql, ticket.id, "system", "delivery_failed", detail=failed, now=now
        )
        if not item.author:  # no one wrote it, or it is itself a note to an agent
            return
        live = self.live.current
        agent = live.rules.agents.get(item.author)
        if agent is None:
            log.warning(
                "outbox %s: cannot tell %s that their mail failed: no such agent"
                " in the rules any more",
                item.id,
                item.author,
            )
            return
        note = delivery_failed(
            agent, f"failed/{item.id}", live.settings.default_language
        )
        note = replace(note, context={**note.context, "reason": failed})
        queue_mails(self.sql, live.composer, ticket, [note], now, live.settings.limits)

    def _relay_state(self, down: bool, detail: str) -> None:
        if down and not self._relay_down:
            log.warning("outgoing mail is being deferred: %s", detail)
        elif not down and self._relay_down:
            log.info("outgoing mail flows again")
        self._relay_down = down
