"""The `digest:` section: the supervisors' daily mail (off while `to` is empty)."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import time

from tierdesk.daemon.config_transport import described
from tierdesk.rules.yamlschema import Duration

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class DigestConfig:
    """Who gets the daily digest, when, and in which language."""

    to: list[str] = field(
        **described("supervisors' addresses; empty: no digest"),
        default_factory=list,
    )
    at: str = field(
        **described("local time (HH:MM) from which yesterday's digest goes out"),
        default="08:00",
    )
    timezone: str | None = field(
        **described("IANA time zone of `at` and of 'yesterday'; default: the rules'"),
        default=None,
    )
    language: str | None = field(
        **described("template language; default: support.default_language"),
        default=None,
    )
    near_breach: Duration = field(
        **described("an open ticket due within this time is listed as near breaching"),
        default=Duration(86400),
    )
    oldest_per_tier: int = field(
        **described("how many of the oldest open tickets of each tier are listed"),
        default=5,
    )

    @property
    def send_time(self) -> time:
        """`at` as a time of day (checked when the config is loaded)."""
        match = _CLOCK.match(self.at.strip())
        assert match, self.at
        return time(int(match[1]), int(match[2]))


def digest_problems(digest: DigestConfig, languages: list[str]) -> list[str]:
    """What is wrong in the `digest:` section, each with how to write it."""
    problems = []
    if not _CLOCK.match(digest.at.strip()):
        problems.append(f"digest.at {digest.at!r}: write a local time such as 08:00")
    if digest.timezone is not None:
        try:
            zoneinfo.ZoneInfo(digest.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(
                f"digest.timezone {digest.timezone!r}: use an IANA name such as"
                " Europe/Berlin"
            )
    if digest.language is not None and digest.language not in languages:
        problems.append(
            f"digest.language {digest.language!r}: use one of support.languages"
            f" ({', '.join(languages)})"
        )
    problems += [
        f"digest.to {a!r} is not an email address"
        for a in digest.to
        if "@" not in a or " " in a.strip()
    ]
    if digest.oldest_per_tier < 0:
        problems.append("digest.oldest_per_tier must be 0 or more")
    return problems
