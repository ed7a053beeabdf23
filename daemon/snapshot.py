"""The configuration in force: config, rules, templates and what is built from them, as one value.

A reload builds a whole new `Snapshot` and swaps it in with one assignment;
every unit of work (a group of messages, an outbox round, an SLA sweep)
takes the snapshot current when it starts and uses it to the end, so no
message is ever handled half under the old rules and half under the new.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tierdesk.daemon.config import Config
from tierdesk.daemon.outgoing.compose import Composer
from tierdesk.daemon.outgoing.templating import Templates
from tierdesk.rules.handling.settings import Settings
from tierdesk.rules.model import RuleSet


@dataclass(frozen=True)
class Snapshot:
    """One consistent configuration: nothing in it changes once built."""

    config: Config
    rules: RuleSet
    templates: Templates
    composer: Composer
    settings: Settings

    @property
    def own_addresses(self) -> frozenset[str]:
        """Our support addresses, lower-cased."""
        return self.settings.own_addresses


def build_snapshot(
    config: Config, rules: RuleSet, instance_id: str, secret: bytes
) -> Snapshot:
    """Templates, composer and handling settings for a loaded config and rules."""
    support = config.support
    templates = Templates(
        config.templates_dir, tuple(support.languages), support.default_language
    )
    settings = Settings(
        rules=rules,
        own_addresses=frozenset(a.lower() for a in support.addresses),
        subject_tag=support.subject_tag,
        languages=tuple(support.languages),
        default_language=support.default_language,
        auto_replies_per_hour=support.auto_replies_per_hour,
        reopen_within=float(support.reopen_within),
        status_words=tuple(support.status_words),
    )
    composer = Composer(support, templates, instance_id, secret)
    return Snapshot(config, rules, templates, composer, settings)


class Live:
    """Holds the snapshot in force; `swap` replaces it whole (reload)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._swap_lock = threading.Lock()

    @property
    def current(self) -> Snapshot:
        """The snapshot to use for the next unit of work."""
        return self._snapshot

    def swap(self, snapshot: Snapshot) -> Snapshot:
        """Put `snapshot` in force; returns the one it replaces."""
        with self._swap_lock:
            old, self._snapshot = self._snapshot, snapshot
        return old
