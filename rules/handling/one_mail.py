"""One mail, not two: how the customer hears of a status an agent set.

A status that comes with an answer is told in the answer's last line (the
`reply` template's `new_status`); a separate status mail (templates
`pending`, `resolved`, `closed`) goes out only for a change without an answer.
A private note tells the customer nothing, and neither does `open`.
"""

from __future__ import annotations

from dataclasses import dataclass

# the statuses the customer hears about
CUSTOMER_SHOULD_KNOW = ("pending", "resolved", "closed")


@dataclass(frozen=True)
class StatusTelling:
    """Where the customer reads the new status: in the answer, in a mail of its own, or not at all."""

    in_answer: str = ""  # the status the answer's last line tells
    own_mail: str = ""  # the status mail's template


def status_telling(status: str | None, note: bool, answered: bool) -> StatusTelling:
    """The answer tells a status set with it; only a change without an answer gets its own mail."""
    if note or status not in CUSTOMER_SHOULD_KNOW:
        return StatusTelling()
    assert status is not None
    return (
        StatusTelling(in_answer=status) if answered else StatusTelling(own_mail=status)
    )
