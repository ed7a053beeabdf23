"""What a bounce says: which addresses failed, for good or for now, and the server's words.

RFC 3464 delivery status notifications and the home-made formats that real
MTAs still send (Exim, qmail, Postfix, Exchange, Yahoo, GroupWise ...) are
read by flufl.bounce, Mailman's detectors. They are only run on mail that
already looks like a bounce: on a person's mail that quotes a failure they
would report one (see the library notes).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.policy import compat32

from tierdesk.parsers.headers import decode_text_bytes

MAX_SCANNED_BYTES = 256 * 1024  # detectors cost about 0.4 ms per KB of body
_STATUS_RE = re.compile(r"^\s*([245])\.\d{1,3}\.\d{1,3}")

# the library logs a traceback before re-raising; we report the failure ourselves
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class BounceReport:
    """The failed recipients a bounce names, and why."""

    permanent: tuple[str, ...] = ()
    temporary: tuple[str, ...] = ()
    diagnostic: str = ""
    status: str = ""  # the DSN status code, e.g. 5.1.1, when there is one

    @property
    def hard(self) -> bool:
        """A permanent failure: the MTA gave up on an address, else a 5.x.x status.

        The action decides before the status: RFC 3464's own example of a
        delay that became a failure says `Action: failed` with `Status: 4.0.0`,
        and that mail was deleted from the queue, not delayed.
        """
        if self.permanent or self.temporary:
            return bool(self.permanent)
        return not self.status or self.status.startswith("5")


def read_bounce(raw: bytes) -> BounceReport:
    """The failures a bounce reports (nothing when it cannot be read)."""
    # imported here: 20 ms at every start, and most mail is not a bounce
    from flufl.bounce import all_failures

    message = message_from_bytes(raw[:MAX_SCANNED_BYTES], policy=compat32)
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # noqa: BLE001 - a detector that trips over odd mail reports nothing
        temporary, permanent = frozenset(), frozenset()
    status, diagnostic = _delivery_status(message)
    return BounceReport(
        tuple(sorted(_addresses(permanent))),
        tuple(sorted(_addresses(temporary) - _addresses(permanent))),
        diagnostic or _first_words(message),
        status,
    )


def _addresses(found: frozenset[bytes]) -> set[str]:
    return {a.decode("utf-8", "replace").strip().strip("<>").lower() for a in found}


def _delivery_status(message: Message) -> tuple[str, str]:
    """Status and Diagnostic-Code of the first failed recipient of an RFC 3464 report."""
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        for block in blocks[1:] or blocks:
            status = str(block.get("Status", "")).strip()
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
            if status or diagnostic:
                match = _STATUS_RE.match(status)
                return (match.group(0).strip() if match else "", diagnostic[:500])
    return "", ""


def _first_words(message: Message) -> str:
    """A non-standard bounce's explanation: the first lines of its text."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                # a robot may name any charset, or garbage, as its own
                text, _ = decode_text_bytes(payload, part.get_content_charset())
                return " ".join(text.split())[:300]
    return ""
