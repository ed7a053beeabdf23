"""IMAP intake: one thread per configured mailbox, IDLE when offered, polling otherwise.

Each round fetches the messages whose UID is above the checkpoint with
BODY.PEEK[] (so nothing is marked read by the fetch), spools them together
with the new checkpoint in one commit, and only then moves to the processed
folder (or flags) the ones whose bytes are stored. A message the server
lists but sends without its body (it cannot read it, or it was expunged
meanwhile) holds the checkpoint back and is fetched again next round; after
`missing_body_attempts` rounds it is logged as an error, left where it is,
and passed. A crash in between is mended on the next connection: messages
at or below the checkpoint still in the folder are moved then. A server
that is down, refuses the login or drops the connection is retried with
exponential backoff, and logged once per change of state, never in a tight
loop. With several daemons on one database, a mailbox is watched only by
the daemon that holds its lease (`daemon.membership`); the others stand by.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from imapclient import DELETED, SEEN, IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError
from peewee import DatabaseError
from tierdesk.daemon.config import ImapMailboxConfig
from tierdesk.daemon.intake.imap_client import (
    NETWORK_ERRORS,
    ConnectionDropped,
    close_politely,
    connect,
    error_text,
    fetch_bodies,
)
from tierdesk.daemon.membership import Membership
from tierdesk.daemon.oauth2 import TokenUnavailable, mailbox_tokens
from tierdesk.daemon.workers import Backoff, Worker
from tierdesk.storage.clock import Clock, system_clock
from tierdesk.storage.db import StorageError
from tierdesk.storage.imap_state import (
    BatchIntake,
    Mailbox,
    forget_missing_bodies,
    given_up_uids,
    load_checkpoint,
    take_batch,
)
from tierdesk.storage.sql import Sql

log = logging.getLogger("tierdesk.imap")

FETCH_BATCH = 25
IDLE_CHECK_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300.0


class MailboxPoller:
    """Takes mail from one IMAP mailbox into the spool, in a Worker thread."""

    def __init__(
        self,
        config: ImapMailboxConfig,
        sql: Sql,
        on_spooled: Callable[[], None],
        clock: Clock = system_clock,
        membership: Membership | None = None,
    ) -> None:
        self.config = config
        self.sql = sql
        self.on_spooled = on_spooled
        self.clock = clock
        # with several daemons on one database, one of them watches the mailbox
        self.membership = membership
        self.lease = f"imap:{config.name}"
        self.state = "starting"
        self.rounds = 0
        # Unix time of the last round that fetched (or found nothing) without error
        self.last_success: float | None = None
        # a FETCH failed for a whole batch: up to this UID, fetch one at a time
        self._fetch_singly_through = 0
        # an OAuth2 mailbox's access token, cached across sessions
        self.tokens = mailbox_tokens(config, sql)
        self._worker = Worker(
            f"imap-{config.name}",
            self._session_then_backoff,
            on_exit=sql.db.close,  # the worker thread's own connection
            backoff=Backoff(ceiling=MAX_BACKOFF_SECONDS),
        )

    @property
    def failures(self) -> int:
        """Sessions that failed since the last successful connection."""
        return self._worker.backoff.failures

    @property
    def label(self) -> str:
        """How logs name this mailbox."""
        c = self.config
        return (
            f"mailbox {c.name!r} ({c.username}@{c.host}:{c.effective_port}/{c.folder})"
        )

    def start(self) -> None:
        """Start the thread."""
        self._worker.start()

    def wake(self) -> None:
        """Look for new mail now (the scheduler calls this in polling mode)."""
        self._worker.wake()

    def stop(self, timeout: float = 15.0) -> None:
        """Leave IDLE, log out and end the thread."""
        self._worker.stop(timeout)

    def _set_state(
        self, state: str, message: str, level: int = logging.WARNING
    ) -> None:
        """Log a change of state once; repeats of the same state stay quiet."""
        if state != self.state:
            log.log(level, "%s: %s", self.label, message)
        else:
            log.debug("%s: %s", self.label, message)
        self.state = state

    def _session_then_backoff(self) -> int:
        """The worker's step: a session until stop or failure, then the reconnect wait.

        Returns 0 once stopping, else 1 so the worker starts the next session at once.
        """
        try:
            if not self._may_watch():
                return 0 if self._worker.stopping else 1
            self._session()
        except TokenUnavailable as exc:
            self._set_state(
                "token-refused", f"no OAuth2 access token: {exc}", logging.ERROR
            )
        except LoginError as exc:
            self._set_state(
                "login-refused",
                f"login refused for {self.config.username}: {error_text(exc)}",
                logging.ERROR,
            )
        except StorageError as exc:
            self._set_state(
                "storage-error", f"cannot spool, will retry: {exc}", logging.ERROR
            )
        except (*NETWORK_ERRORS, ConnectionDropped) as exc:
            self._set_state(
                "unreachable", f"connection failed or dropped: {error_text(exc)}"
            )
        except Exception:
            log.exception("%s: unexpected error", self.label)
            self.state = "error"
        if self._worker.stopping:
            return 0
        # a wake-up must not shorten the delay: the scheduler wakes every poll interval
        delay = self._worker.backoff.failed()
        log.debug("%s: reconnecting in %.0fs", self.label, delay)
        self._worker.pause(delay)
        return 1

    def _may_watch(self) -> bool:
        """Take the mailbox's lease; without it, stand by for one heartbeat and say False."""
        if self.membership is None:
            return True
        try:
            holder = self.membership.take(self.lease)
        except DatabaseError as exc:
            raise StorageError(f"cannot take the mailbox's lease: {exc}") from exc
        if holder == self.membership.id:
            return True
        self._set_state(
            "standby",
            f"watched by daemon {holder}; this one takes over if that one stops",
            logging.INFO,
        )
        self._worker.pause(self.membership.retry_seconds)
        return False

    def _still_watching(self) -> bool:
        """False once stopping, or once the lease went to another daemon."""
        if self._worker.stopping:
            return False
        if self.membership is None or self.membership.holds(self.lease):
            return True
        self._set_state(
            "standby", "the lease went to another daemon; standing by", logging.WARNING
        )
        return False

    def _session(self) -> None:
        client = connect(self.config, tokens=self.tokens)
        try:
            status = client.select_folder(self.config.folder)
            uidvalidity = int(status[b"UIDVALIDITY"])
            capabilities = set(client.capabilities())
            checkpoint = load_checkpoint(self.sql, self.config.name)
            last_uid = 0
            if checkpoint is not None and checkpoint.uidvalidity == uidvalidity:
                last_uid = checkpoint.last_uid
            elif checkpoint is not None:
                forget_missing_bodies(self.sql, self.config.name, uidvalidity)
                self._fetch_singly_through = 0
                log.warning(
                    "%s: UIDVALIDITY changed (%s -> %s); reading the folder again, "
                    "mail already taken is recognised and not taken twice",
                    self.label,
                    checkpoint.uidvalidity,
                    uidvalidity,
                )
            if self.config.after == "move" and not client.folder_exists(
                self.config.processed_folder
            ):
                client.create_folder(self.config.processed_folder)
            mode = "IDLE" if self.config.idle and b"IDLE" in capabilities else "polling"
            self._set_state(
                "connected", f"connected, watching with {mode}", logging.INFO
            )
            self._worker.backoff.reset()
            if last_uid:
                self._tidy(client, capabilities, uidvalidity, last_uid)
            while self._still_watching():
                last_uid = self._fetch_new(client, capabilities, uidvalidity, last_uid)
                self.rounds += 1
                self.last_success = time.time()
                if mode == "IDLE":
                    self._idle(client)
                else:
                    self._wait_for_poll(client)
        finally:
            close_politely(client)

    def _fetch_new(
        self,
        client: IMAPClient,
        capabilities: set[bytes],
        uidvalidity: int,
        last_uid: int,
    ) -> int:
        """Spool what is new, move (or flag) what is stored; returns the new checkpoint."""
        # `UID n:*` always includes the newest message, even when it is below n
        uids = sorted(
            uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid
        )
        limit = max(1, self.config.missing_body_attempts)
        mailbox = Mailbox(self.config.name, uidvalidity, self.config.host, limit)
        advancing = True
        while uids:
            size = 1 if uids[0] <= self._fetch_singly_through else FETCH_BATCH
            batch, uids = uids[:size], uids[size:]
            try:
                bodies = fetch_bodies(client, batch)
                failure = None
            except IMAPClientError as exc:
                if len(batch) > 1:
                    # one message the server cannot read fails the whole FETCH (Dovecot
                    # even ends the session): find it by fetching these one at a time
                    self._fetch_singly_through = batch[-1]
                    if isinstance(exc, IMAPClientAbortError):
                        raise
                    uids = batch + uids
                    continue
                bodies, failure = {}, exc
            intake = take_batch(
                self.sql, mailbox, batch, bodies, last_uid, advancing, self.clock()
            )
            last_uid, advancing = intake.checkpoint, intake.advancing
            self._report(intake, limit, failure)
            if intake.new:
                self.on_spooled()
            if intake.stored:
                self._dispose(client, capabilities, intake.stored)
            if isinstance(failure, IMAPClientAbortError):
                raise failure  # the session is gone; the attempt is counted
        return last_uid

    def _report(
        self, intake: BatchIntake, limit: int, failure: Exception | None
    ) -> None:
        """Log what a batch brought: counts at INFO, missing bodies as warnings and errors."""
        folder = self.config.folder
        for uid, attempts in intake.missing.items():
            why = f"the server failed: {error_text(failure)}" if failure else "no body"
            log.warning(
                "%s: UID %d came without its body (%s; attempt %d of %d); unless it "
                "was expunged meanwhile, it stays in %s and is fetched again next round",
                self.label,
                uid,
                why,
                attempts,
                limit,
                folder,
            )
        for uid in intake.given_up:
            log.error(
                "%s: UID %d came without its body %d times; it is left in %s untouched "
                "and skipped. Look at it on the server (damaged or unreadable?): copy "
                "it into the folder again to have it taken, or remove it",
                self.label,
                uid,
                limit,
                folder,
            )
        taken = len(intake.new) + len(intake.already_spooled)
        if taken:
            log.info(
                "%s: took %d message(s): %d new, %d already spooled; checkpoint at UID %d",
                self.label,
                taken,
                len(intake.new),
                len(intake.already_spooled),
                intake.checkpoint,
            )

    def _dispose(
        self, client: IMAPClient, capabilities: set[bytes], uids: list[int]
    ) -> None:
        """After the spool commit: move the messages away, or flag them."""
        if self.config.after == "flag":
            client.add_flags(uids, [SEEN])
            return
        if b"MOVE" in capabilities:
            client.move(uids, self.config.processed_folder)
            return
        client.copy(uids, self.config.processed_folder)
        client.add_flags(uids, [DELETED])
        if b"UIDPLUS" in capabilities:
            client.uid_expunge(uids)
        else:
            client.expunge()

    def _tidy(
        self,
        client: IMAPClient,
        capabilities: set[bytes],
        uidvalidity: int,
        last_uid: int,
    ) -> None:
        """Move away messages spooled before a crash cut the session short."""
        if self.config.after != "move":
            return
        # the checkpoint passed these without their bytes: they stay where they are
        skipped = given_up_uids(self.sql, self.config.name, uidvalidity)
        leftover = [
            uid
            for uid in client.search(["UID", f"1:{last_uid}"])
            if uid <= last_uid and uid not in skipped
        ]
        if leftover:
            log.info(
                "%s: moving %d message(s) spooled before an interruption",
                self.label,
                len(leftover),
            )
            self._dispose(client, capabilities, leftover)

    def _idle(self, client: IMAPClient) -> None:
        """Wait in IDLE until new mail, a wake-up, stop, or time to renew IDLE."""
        client.idle()
        self._idle_wait(client)  # on a dead connection it raises, and IDLE is not ended
        client.idle_done()

    def _idle_wait(self, client: IMAPClient) -> None:
        started = time.monotonic()
        while (
            self._still_watching()
            and time.monotonic() - started < self.config.idle_renew
        ):
            asked = time.monotonic()
            responses = client.idle_check(timeout=IDLE_CHECK_SECONDS)
            if any(r and r[0] == b"BYE" for r in responses):
                raise ConnectionDropped("the server said BYE")
            if not responses and time.monotonic() - asked < IDLE_CHECK_SECONDS / 2:
                # a dead socket answers at once with nothing, forever (imapclient #565)
                raise ConnectionDropped("the connection died during IDLE")
            if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                return
            if self._worker.take_wake():
                return

    def _wait_for_poll(self, client: IMAPClient) -> None:
        """Without IDLE: wait for the scheduler's poll (or stop), keeping the session alive."""
        # a stop counts as a wake-up, so this wait ends on stop too
        self._worker.take_wake(max(self.config.poll_interval * 2, 30.0))
        client.noop()
