"""A loopback OAuth2 provider for tests: token endpoint, device authorization, introspection.

It stands in for Microsoft's or Google's token service (which cannot run here):
it hands out access tokens for client credentials, refresh tokens and device
codes, and answers Dovecot's oauth2 passdb (RFC 7662 introspection, POST) on
whether a token is active. Every request is recorded so that tests can count
them.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

CLIENT_ID = "tierdesk-app"
CLIENT_SECRET = "app-secret-1"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE = "WDJB-MJHT"


@dataclass
class FakeProvider:
    """The provider's state; `serve()` runs it on 127.0.0.1."""

    user: str = "support"  # the mailbox every token is good for
    expires_in: int = 3600
    rotate: bool = False  # hand out a new refresh token on each refresh
    failing: str | None = None  # an OAuth2 error the token endpoint answers with
    device_pending: int = 0  # answers of authorization_pending before approval
    device_slow_down: int = 0  # then answers of slow_down
    interval: int = 0  # the device flow's polling interval
    active: dict[str, bool] = field(default_factory=dict)  # access token -> active
    refresh_tokens: set[str] = field(default_factory=set)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    introspected: list[str] = field(default_factory=list)
    url: str = ""
    codes: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # code -> its request
    lock: threading.Lock = field(default_factory=threading.Lock)
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def token_url(self) -> str:
        """The token endpoint."""
        return f"{self.url}/token"

    @property
    def device_url(self) -> str:
        """The device authorization endpoint."""
        return f"{self.url}/device"

    @property
    def introspection_url(self) -> str:
        """The introspection endpoint Dovecot asks."""
        return f"{self.url}/introspect"

    @property
    def authorization_url(self) -> str:
        """The browser sign-in's endpoint."""
        return f"{self.url}/authorize"

    def sign_in(self, query: dict[str, str]) -> str:
        """The browser signs in: where the provider sends it back, with a code."""
        with self.lock:
            code = f"ac-{next(self._numbers)}"
            self.codes[code] = query
            return f"{query['redirect_uri']}?code={code}&state={query['state']}"

    def token_requests(self, grant: str | None = None) -> int:
        """Requests to the token endpoint (with this grant_type)."""
        with self.lock:
            return sum(
                1
                for path, form in self.requests
                if path == "/token" and grant in (None, form.get("grant_type"))
            )

    def add_refresh_token(self) -> str:
        """A refresh token the provider accepts (as if an admin had authorized)."""
        with self.lock:
            token = f"rt-{next(self._numbers)}-{secrets.token_hex(4)}"
            self.refresh_tokens.add(token)
            return token

    def revoke_all(self) -> None:
        """Every access token handed out so far becomes inactive."""
        with self.lock:
            for token in self.active:
                self.active[token] = False

    def issued(self) -> list[str]:
        """Access tokens handed out, oldest first."""
        with self.lock:
            return list(self.active)

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for one request."""
        with self.lock:
            self.requests.append((path, form))
            if path == "/introspect":
                token = form.get("token", "")
                self.introspected.append(token)
                if self.active.get(token):
                    return 200, {"active": True, "username": self.user}
                return 200, {"active": False}  # anything else is a temporary failure
            if form.get("client_id") != CLIENT_ID:
                return 401, {"error": "invalid_client"}
            if path == "/device":
                return 200, {
                    "device_code": "dc-1",
                    "user_code": USER_CODE,
                    "verification_uri": f"{self.url}/activate",
                    "expires_in": 600,
                    "interval": self.interval,
                }
            if path != "/token":
                return 404, {"error": "not_found"}
            if self.failing:
                return 400, {"error": self.failing, "error_description": "refused"}
            if form.get("client_secret") != CLIENT_SECRET:
                return 401, {"error": "invalid_client"}
            return self._grant(form)

    def _grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type")
        refresh = None
        if grant == "client_credentials":
            pass
        elif grant == "refresh_token":
            old = form.get("refresh_token", "")
            if old not in self.refresh_tokens:
                return 400, {"error": "invalid_grant", "error_description": "revoked"}
            if self.rotate:
                self.refresh_tokens.discard(old)
                refresh = self._new_refresh_token()
        elif grant == "authorization_code":
            asked = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
            if (
                asked is None
                or asked.get("code_challenge") != challenge.decode().rstrip("=")
                or asked.get("redirect_uri") != form.get("redirect_uri")
            ):
                return 400, {"error": "invalid_grant"}
            refresh = self._new_refresh_token()
        elif grant == DEVICE_GRANT:
            if self.device_pending:
                self.device_pending -= 1
                return 400, {"error": "authorization_pending"}
            if self.device_slow_down:
                self.device_slow_down -= 1
                return 400, {"error": "slow_down"}
            refresh = self._new_refresh_token()
        else:
            return 400, {"error": "unsupported_grant_type"}
        access = f"at-{next(self._numbers)}-{secrets.token_hex(8)}"
        self.active[access] = True
        body = {"access_token": access, "token_type": "Bearer"}
        body["expires_in"] = self.expires_in  # type: ignore[assignment]
        if refresh:
            body["refresh_token"] = refresh
        return 200, body

    def _new_refresh_token(self) -> str:
        token = f"rt-{next(self._numbers)}-{secrets.token_hex(4)}"
        self.refresh_tokens.add(token)
        return token


def _form(handler: BaseHTTPRequestHandler) -> dict[str, str]:
    """The urlencoded body, with client credentials from a Basic header folded in."""
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length).decode()
    form = dict(parse_qsl(body, keep_blank_values=True))
    auth = handler.headers.get("Authorization", "")
    if auth.startswith("Basic "):
        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        form.setdefault("client_id", unquote(user))
        form.setdefault("client_secret", unquote(password))
    return form


@contextmanager
def serve(provider: FakeProvider) -> Iterator[FakeProvider]:
    """Run `provider` on a free port of 127.0.0.1 until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, body = provider.answer(self.path, _form(self))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            query = dict(parse_qsl(urlsplit(self.path).query))
            self.send_response(302)
            self.send_header("Location", provider.sign_in(query))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
