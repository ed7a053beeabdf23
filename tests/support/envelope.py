"""The envelope an MTA gives a plain mail: its From as sender, its To and Cc as recipients."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32
from email.utils import getaddresses, parseaddr


def plain_envelope(raw: bytes) -> tuple[str | None, tuple[str, ...]]:
    """(envelope sender, recipients) as a sending client and our MTA would set them."""
    msg = message_from_bytes(raw, policy=compat32)
    sender = parseaddr(str(msg.get("From", "")))[1] or None
    headers = [str(v) for v in (*msg.get_all("To", []), *msg.get_all("Cc", []))]
    recipients = tuple(address for _, address in getaddresses(headers) if address)
    return sender, recipients or ("support@example.com",)
