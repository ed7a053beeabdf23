"""What routing decides for a message: plain data, handed to the apply stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Decision:
    """Tier, queue and the rest for a ticket, and whether to acknowledge."""

    tier: int = 1
    queue: str = "default"
    priority: str = "normal"
    assignee: str | None = None
    assign_group: str | None = None
    tags: tuple[str, ...] = ()
    language: str = "en"
    template: str = "ack"
    sla: str | None = None
    acknowledge: bool = True
    action: Literal["ticket", "drop", "quarantine"] = "ticket"
    matched_rules: tuple[str, ...] = ()
