"""What happened to one message: a kind from a fixed list, and the reason in words.

Every Outcome is made here, by `outcome` or one of the named shortcuts, so
the list of kinds and the JSON line `tierdesk inject` prints stay in one place.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field


class OutcomeKind(enum.StrEnum):
    """How the pipeline disposed of a message (the spool's `outcome` column)."""

    NEW_TICKET = "new_ticket"
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    ANSWERED = "answered"  # a status request got its reply
    DEFERRED = "deferred"  # spooled; a temporary storage error put processing off


@dataclass(frozen=True)
class Outcome:
    """The kind, the ticket (public number and row id) and the reason."""

    kind: OutcomeKind
    message_id: str
    reason: str = ""
    ticket: int | None = None  # the public number
    ticket_id: int | None = field(default=None, compare=False)

    def as_json(self) -> str:
        """One JSON line: message_id, outcome, ticket, reason."""
        return json.dumps(
            {
                "message_id": self.message_id,
                "outcome": self.kind.value,
                "ticket": self.ticket,
                "reason": self.reason,
            },
            ensure_ascii=False,
        )


def outcome(
    kind: OutcomeKind | str,
    message_id: str,
    reason: str = "",
    ticket_number: int | None = None,
    ticket_id: int | None = None,
) -> Outcome:
    """An Outcome of any kind (a recorded one is read back with its stored kind)."""
    return Outcome(OutcomeKind(kind), message_id, reason, ticket_number, ticket_id)


def quarantined(message_id: str, reason: str) -> Outcome:
    """Set aside with the reason; kept in the spool and retriable."""
    return outcome(OutcomeKind.QUARANTINED, message_id, reason)


def deferred() -> Outcome:
    """Spooled, but processing was put off by a temporary storage error."""
    return outcome(
        OutcomeKind.DEFERRED,
        "",
        "spooled; a temporary storage error deferred processing",
    )


ALREADY_STORED = "Message-ID already stored"
