"""The browser sign-in for a refresh token: authorization code with PKCE to a loopback port.

For providers whose device flow does not offer the mail scope (Google's does
not allow https://mail.google.com/): the admin opens the printed address,
signs in, and the provider sends the browser back to 127.0.0.1:PORT, where
this side waits for the code (RFC 8252). On a remote server, forward the
port first (`ssh -L PORT:127.0.0.1:PORT server`, with `--port PORT`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from tierdesk.daemon.config_transport import OAuth2Config
from tierdesk.daemon.oauth2 import TOKEN_ERRORS, refused
from tierdesk.daemon.oauth2_device import DeviceFlowError

PAGE = b"tierdesk has the sign-in; you can close this page.\n"


class _Redirect(HTTPServer):
    """The loopback server; `answer` holds the query of the request that came back."""

    answer: dict[str, str] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Redirect

    def do_GET(self) -> None:
        query = dict(parse_qsl(urlsplit(self.path).query))
        if "code" in query or "error" in query:
            self.server.answer = query
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def browser_sign_in(
    config: OAuth2Config,
    secret: str | None,
    show: Callable[[str], None],
    port: int = 0,
    wait: float = 600.0,
) -> dict[str, Any]:
    """Show the sign-in address, wait for the redirect, trade the code; the token response.

    Raises DeviceFlowError when the sign-in is declined, never comes back, or
    brings no refresh token.
    """
    try:
        server = _Redirect(("127.0.0.1", port), _Handler)
    except OSError as exc:
        raise DeviceFlowError(f"cannot listen on 127.0.0.1:{port}: {exc}") from exc
    server.timeout = 1.0
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    session = OAuth2Session(
        config.client_id,
        secret,
        scope=config.effective_scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post" if secret else "none",
    )
    verifier = generate_token(64)
    try:
        # offline + consent: Google sends a refresh token only when asked so
        url, state = session.create_authorization_url(
            config.effective_authorization_url,
            code_verifier=verifier,
            access_type="offline",
            prompt="consent",
        )
        show(url)
        deadline = time.monotonic() + wait
        while server.answer is None and time.monotonic() < deadline:
            server.handle_request()
        answer = server.answer
        if answer is None:
            raise DeviceFlowError(
                "no sign-in came back: run the command again (on a remote server, "
                "forward the port: ssh -L PORT:127.0.0.1:PORT, and give --port PORT)"
            )
        if answer.get("error"):
            raise DeviceFlowError(f"the sign-in was declined: {answer['error']}")
        if answer.get("state") != state:
            raise DeviceFlowError("the sign-in came back with a wrong state: ignored")
        try:
            token = session.fetch_token(
                config.effective_token_url,
                grant_type="authorization_code",
                code=answer["code"],
                code_verifier=verifier,
                timeout=config.timeout,
            )
        except TOKEN_ERRORS as exc:
            raise DeviceFlowError(refused(config, exc)) from exc
    finally:
        server.server_close()
        session.close()
    if not token.get("refresh_token"):
        raise DeviceFlowError("the provider granted access but sent no refresh token")
    return dict(token)
