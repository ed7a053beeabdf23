"""The SMTP/LMTP listener's handler: refuse strangers at RCPT, spool at DATA, then answer.

`handle_DATA` only spools and commits (through the group-committing
SpoolWriter) before it says 250; everything else happens in the pipeline afterwards. Any failure is a
451, never aiosmtpd's default 500 that bounces the mail and leaks the error.

Hygiene: too many recipients get 452 (the client sends them later), too many
sessions at once (in all, or from one IP) get 421 at once, an idle session
is closed with 421, and long body lines are taken as they are.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, AnyStr

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import DATA_SIZE_DEFAULT, SMTP, Envelope, Session
from tierdesk.parsers.classify import is_own_address
from tierdesk.storage.db import StorageError
from tierdesk.storage.spool import Arrival

log = logging.getLogger("tierdesk.smtp")

TEMPFAIL = "451 4.3.0 Temporary failure, please try again later"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
TOO_MANY_CONNECTIONS = b"421 4.7.0 Too many connections, try again later\r\n"
IDLE_TOO_LONG = b"421 4.4.2 Idle for too long, closing the connection\r\n"


class IntakeHandler:
    """aiosmtpd handler: one instance serves every session of a listener."""

    def __init__(
        self,
        own_addresses: Callable[[], frozenset[str]],
        spool_arrival: Callable[[Arrival], Awaitable[int]],
        on_spooled: Callable[[], None],
        source: str = "smtp",
        max_recipients: int = 100,
    ) -> None:
        self.own_addresses = own_addresses
        self.spool_arrival = spool_arrival
        self.on_spooled = on_spooled
        self.source = source
        self.max_recipients = max_recipients
        self.in_flight = 0

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Accept only our support addresses (plus-addressed forms too); never relay.

        Past `max_recipients` the answer is 452: RFC 5321 4.5.3.1.10 has the client send the rest later."""
        if not is_own_address(address, self.own_addresses()):
            return f"550 5.1.1 <{address}>: no such mailbox here"
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return TOO_MANY_RECIPIENTS
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


class SessionTable:
    """A listener's open sessions, and the limits on how many it serves at once.

    A session is counted once, from its start until its connection is lost;
    a session that was never admitted is not counted at all.
    """

    def __init__(self, max_sessions: int = 100, max_per_client: int = 10) -> None:
        self.max_sessions = max_sessions
        self.max_per_client = max_per_client
        self._client_of: dict[SMTP, str | None] = {}
        self._per_client: Counter[str] = Counter()

    def admit(self, session: SMTP, client: str | None) -> bool:
        """Count a starting session in; False when it would pass a limit.

        `client` is the peer's IP, or None on a Unix socket (only the MTA
        connects there), which only the overall limit applies to.
        """
        if session in self._client_of:
            return True  # after STARTTLS aiosmtpd starts the same session again
        if len(self._client_of) >= self.max_sessions:
            return False
        if client is not None and self._per_client[client] >= self.max_per_client:
            return False
        self._client_of[session] = client
        if client is not None:
            self._per_client[client] += 1
        return True

    def forget(self, session: SMTP) -> None:
        """Count a finished session out; harmless for one never admitted, or twice."""
        if session not in self._client_of:
            return
        client = self._client_of.pop(session)
        if client is not None:
            self._per_client[client] -= 1
            if not self._per_client[client]:
                del self._per_client[client]

    def __iter__(self) -> Iterator[SMTP]:
        return iter(list(self._client_of))

    def __len__(self) -> int:
        return len(self._client_of)


class IntakeSMTP(SMTP):
    """aiosmtpd's SMTP with the listener's session limits, an idle timeout that
    says 421, body lines of any length, and enhanced status codes on its own
    size refusals."""

    def __init__(
        self, handler: IntakeHandler, sessions: SessionTable, **kwargs: Any
    ) -> None:
        # aiosmtpd sizes its line reader from this in __init__, so it is set first
        self.line_length_limit = longest_line(kwargs.get("data_size_limit"))
        super().__init__(handler, **kwargs)
        self._sessions = sessions
        self._admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the session, or answer 421 and close when a limit is reached."""
        if not self._sessions.admit(self, _client_ip(transport)):
            log.warning(
                "refused a session from %s: too many connections",
                transport.get_extra_info("peername") or "the Unix socket",
            )
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(TOO_MANY_CONNECTIONS)
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        """Count the session out, then let aiosmtpd clean up what it started."""
        self._sessions.forget(self)
        if self._admitted:
            super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        """Restart the idle timer on any data, so a long upload in DATA is not idle.

        aiosmtpd restarts it only on commands, which would cut off a slow
        but steady DATA longer than `timeout`."""
        if not self._admitted:
            return
        self._reset_timeout()
        super().data_received(data)

    def _timeout_cb(self) -> None:
        """An idle session hears 421 before it is closed (as from Postfix), not just a hang-up."""
        transport = self.transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(IDLE_TOO_LONG)
        super()._timeout_cb()

    async def push(self, status: AnyStr) -> None:
        """Send a reply line; aiosmtpd's bare size refusals get RFC 3463's 5.3.4."""
        # with `longest_line` a line is only too long in a message over the size limit
        if isinstance(status, str) and status.startswith(
            ("552 Error", "500 Line too long")
        ):
            status = (
                f"552 5.3.4 Message too big: the limit is {self.data_size_limit} bytes"
            )
        await super().push(status)


class IntakeLMTP(IntakeSMTP, LMTP):
    """LMTP (LHLO instead of EHLO) with the same replies."""


def longest_line(data_size_limit: int | None) -> int:
    """The longest line taken: one that fits in a message of the size limit.

    aiosmtpd's own limit is RFC 5321's 1000 octets and answers a longer body
    line with a permanent 500, but real clients send longer ones; the size
    limit already bounds what a session holds in memory.
    """
    # + CRLF and a transparency dot: a longer line is in a message over the limit
    return (data_size_limit or DATA_SIZE_DEFAULT) + 3


def _client_ip(transport: asyncio.BaseTransport) -> str | None:
    """The peer's IP (an IPv4-mapped IPv6 address as IPv4), or None on a Unix socket."""
    peer = transport.get_extra_info("peername")
    if not isinstance(peer, tuple) or not peer:
        return None
    try:
        address = ipaddress.ip_address(peer[0])
    except ValueError:
        return str(peer[0])
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def _peer(session: Session) -> str:
    peer: Any = session.peer
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "")
