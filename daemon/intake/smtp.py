"""The SMTP/LMTP listener's handler: refuse strangers at RCPT, spool at DATA, then answer.

`handle_DATA` only spools and commits (through the group-committing
SpoolWriter) before it says 250; everything else happens in the pipeline afterwards. Any failure is a
451, never aiosmtpd's default 500 that bounces the mail and leaks the error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, AnyStr

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from tierdesk.parsers.classify import is_own_address
from tierdesk.storage.db import StorageError
from tierdesk.storage.spool import Arrival

log = logging.getLogger("tierdesk.smtp")

TEMPFAIL = "451 4.3.0 Temporary failure, please try again later"


class IntakeHandler:
    """aiosmtpd handler: one instance serves every session of a listener."""

    def __init__(
        self,
        own_addresses: Callable[[], frozenset[str]],
        spool_arrival: Callable[[Arrival], Awaitable[int]],
        on_spooled: Callable[[], None],
        source: str = "smtp",
    ) -> None:
        self.own_addresses = own_addresses
        self.spool_arrival = spool_arrival
        self.on_spooled = on_spooled
        self.source = source
        self.in_flight = 0

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Accept only our support addresses (plus-addressed forms too); never relay."""
        if not is_own_address(address, self.own_addresses()):
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Spool the message durably, then (and only then) say 250."""
        raw = envelope.original_content or b""
        arrival = Arrival(
            raw=raw,
            source=self.source,
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            peer=_peer(session),
        )
        self.in_flight += 1
        try:
            spool_id = await self.spool_arrival(arrival)
        except StorageError as exc:
            log.error("cannot spool a message from %s: %s", arrival.peer, exc)
            return self._per_recipient(envelope, TEMPFAIL)
        finally:
            self.in_flight -= 1
        self.on_spooled()
        return self._per_recipient(envelope, f"250 2.0.0 Ok: queued as {spool_id}")

    def _per_recipient(self, envelope: Envelope, status: str) -> str:
        """LMTP answers DATA once per accepted recipient (RFC 2033 4.2); SMTP once.

        aiosmtpd's LMTP class sends a single reply (its issue #517), which leaves
        Postfix waiting for the others, so the handler writes them all.
        """
        if self.source != "lmtp":
            return status
        return "\r\n".join([status] * max(1, len(envelope.rcpt_tos)))

    async def handle_exception(self, error: Exception) -> str:
        """Anything unexpected is temporary for the client: it retries, nothing bounces."""
        log.error("SMTP session error: %s: %s", type(error).__name__, error)
        return TEMPFAIL


class IntakeSMTP(SMTP):
    """aiosmtpd's SMTP that registers its session (for a clean shutdown) and uses
    enhanced status codes on its own size refusals."""

    def __init__(
        self, handler: IntakeHandler, sessions: set[SMTP], **kwargs: Any
    ) -> None:
        super().__init__(handler, **kwargs)
        self._sessions = sessions
        sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        """Forget the session, then let aiosmtpd clean up."""
        self._sessions.discard(self)
        super().connection_lost(error)

    async def push(self, status: AnyStr) -> None:
        """Send a reply line; aiosmtpd's bare '552 Error: ...' gets RFC 3463's 5.3.4."""
        if isinstance(status, str) and status.startswith("552 Error"):
            status = (
                f"552 5.3.4 Message too big: the limit is {self.data_size_limit} bytes"
            )
        await super().push(status)


class IntakeLMTP(IntakeSMTP, LMTP):
    """LMTP (LHLO instead of EHLO) with the same replies."""


def _peer(session: Session) -> str:
    peer: Any = session.peer
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "")
