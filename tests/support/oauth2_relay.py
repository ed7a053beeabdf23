"""A real SMTP relay (aiosmtpd) that wants SASL XOAUTH2, checked against the fake provider."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from tests.support.oauth2_provider import FakeProvider
from tests.support.ports import free_port
from tests.support.relay_sink import RelaySink


@dataclass
class XOAuth2Relay(RelaySink):
    """Records mail, but only from a client that logged in with an active token."""

    provider: FakeProvider = field(default_factory=FakeProvider)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (user, accepted)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """`AUTH XOAUTH2 <b64>`: a bad token gets Google's 334 JSON challenge, then 535."""
        raw = base64.b64decode(args[1]) if len(args) > 1 else b""
        fields = dict(
            part.split("=", 1) for part in raw.decode().split("\x01") if "=" in part
        )
        user, token = fields.get("user", ""), fields.get("auth", "")[len("Bearer ") :]
        with self.provider.lock:
            accepted = self.provider.active.get(token, False) and (
                user == self.provider.user
            )
        self.logins.append((user, accepted))
        if accepted:
            return AuthResult(success=True)
        error = {
            "status": "401",
            "schemes": "Bearer",
            "scope": "https://mail.google.com/",
        }
        await server.challenge_auth(json.dumps(error))  # the client answers with ""
        return AuthResult(success=False, handled=False)  # aiosmtpd then says 535

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """No mail before a successful AUTH (aiosmtpd's auth_required insists on TLS)."""
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


@contextmanager
def xoauth2_relay(provider: FakeProvider) -> Iterator[XOAuth2Relay]:
    """Run an XOAUTH2-only relay on a free port (AUTH in plain text: loopback tests)."""
    relay = XOAuth2Relay(provider=provider)
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=free_port(),
        ready_timeout=10,
        auth_require_tls=False,
        auth_exclude_mechanism=["PLAIN", "LOGIN"],
    )
    controller.start()
    relay.port = controller.port  # type: ignore[attr-defined]
    try:
        yield relay
    finally:
        controller.stop()
