"""A real SMTP server that records what tierdesk's sender hands it (the relay in tests)."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.ports import free_port


@dataclass
class Received:
    """One mail as the relay got it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        """The mail parsed with the modern policy."""
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class RelaySink:
    """Records mail; `reply` decides the answer to DATA (e.g. '451 4.3.0 later')."""

    received: list[Received] = field(default_factory=list)
    reply: str = "250 2.0.0 OK"
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.reply.startswith("250"):
            with self.lock:
                self.received.append(
                    Received(
                        envelope.mail_from,
                        list(envelope.rcpt_tos),
                        envelope.original_content or b"",
                    )
                )
        return self.reply

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until at least `count` mails arrived; returns them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        with self.lock:
            return list(self.received)


def start_sink() -> tuple[RelaySink, Controller]:
    """Start a relay sink on a free port; stop it with controller.stop()."""
    sink = RelaySink()
    controller = Controller(
        sink, hostname="127.0.0.1", port=free_port(), ready_timeout=10
    )
    controller.start()
    return sink, controller
