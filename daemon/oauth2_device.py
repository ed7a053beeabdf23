"""The OAuth2 device authorization grant (RFC 8628), which gets a refresh token.

The admin opens a web page on any device and types a short code there, while
this side polls the token endpoint at the interval the provider asks for
(and slower after `slow_down`) until the sign-in is done, declined or expired.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authlib.common.errors import AuthlibBaseError
from tierdesk.daemon.config_transport import OAuth2Config
from tierdesk.daemon.oauth2 import TOKEN_ERRORS, new_session, refused

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5  # RFC 8628 3.2, when the provider does not say
SLOW_DOWN_STEP = 5  # RFC 8628 3.5: each slow_down adds five seconds


class DeviceFlowError(Exception):
    """The device flow ended without a refresh token; the text says why and what to do."""


@dataclass(frozen=True)
class DeviceCode:
    """What the device authorization endpoint answered."""

    device_code: str
    user_code: str
    verification_uri: str
    expires_in: float
    interval: float
    message: str = ""

    @classmethod
    def from_response(cls, body: dict[str, Any]) -> DeviceCode:
        """Parse the endpoint's JSON (Google says verification_url, RFC 8628 _uri)."""
        return cls(
            device_code=str(body["device_code"]),
            user_code=str(body["user_code"]),
            verification_uri=str(
                body.get("verification_uri") or body["verification_url"]
            ),
            expires_in=float(body.get("expires_in") or 600),
            interval=float(body.get("interval", DEFAULT_INTERVAL)),
            message=str(body.get("message") or ""),
        )


def request_device_code(config: OAuth2Config, secret: str | None) -> DeviceCode:
    """Ask the device authorization endpoint for a user code; raises DeviceFlowError."""
    url = config.device_authorization_url or ""
    session = new_session(config, secret)
    try:
        response = session.post(
            url,
            data={"client_id": config.client_id, "scope": config.effective_scope},
            timeout=config.timeout,
            withhold_token=True,  # there is no token yet to send
        )
        body = response.json()
        if not isinstance(body, dict):
            raise TypeError(f"not a JSON object (HTTP {response.status_code})")
        if "error" in body:
            why = f"{body['error']} {body.get('error_description') or ''}".strip()
            raise DeviceFlowError(
                f"the device authorization endpoint {url} refused: {why}"
            )
        return DeviceCode.from_response(body)
    except (*TOKEN_ERRORS, TypeError) as exc:
        raise DeviceFlowError(
            f"the device authorization endpoint {url} failed: {exc}"
        ) from exc
    finally:
        session.close()


def wait_for_tokens(
    config: OAuth2Config,
    secret: str | None,
    code: DeviceCode,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll the token endpoint until the admin has signed in; the token response.

    Honors `interval`, `authorization_pending` and `slow_down`; raises
    DeviceFlowError when the sign-in is declined, the code expires, or the
    provider sends no refresh token.
    """
    interval = code.interval
    deadline = clock() + code.expires_in
    url = config.effective_token_url
    session = new_session(config, secret)
    try:
        while True:
            sleep(interval)
            if clock() > deadline:
                raise DeviceFlowError(
                    "the code expired before the sign-in was done: run the command again"
                )
            try:
                token = session.fetch_token(
                    url,
                    grant_type=DEVICE_GRANT,
                    device_code=code.device_code,
                    timeout=config.timeout,
                )
            except AuthlibBaseError as exc:
                if exc.error == "authorization_pending":
                    continue
                if exc.error == "slow_down":
                    interval += SLOW_DOWN_STEP
                    continue
                if exc.error == "access_denied":
                    raise DeviceFlowError("the sign-in was declined") from exc
                if exc.error == "expired_token":
                    raise DeviceFlowError(
                        "the code expired before the sign-in was done: "
                        "run the command again"
                    ) from exc
                raise DeviceFlowError(refused(config, exc)) from exc
            except TOKEN_ERRORS as exc:
                raise DeviceFlowError(refused(config, exc)) from exc
            if not token.get("refresh_token"):
                raise DeviceFlowError(
                    "the provider granted access but sent no refresh token (Microsoft:"
                    " add offline_access to oauth2.scope)"
                )
            return dict(token)
    finally:
        session.close()
