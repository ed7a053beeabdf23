"""The configuration of search and of similar solved tickets in notices (`search:`).

Part of the one configuration object (`daemon.config.Config`); split out only
so that each file stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tierdesk.daemon.config_transport import described


@dataclass(frozen=True)
class SearchConfig:
    """Full-text search, and the similar solved tickets a new ticket's notice lists."""

    similar_tickets: int = field(
        **described(
            "resolved or closed tickets like a new one that its notice lists (0: none,"
            " and no look-up)"
        ),
        default=3,
    )
    answer_lines: int = field(
        **described(
            "lines of the answer that resolved each similar ticket shown in the notice"
        ),
        default=4,
    )
