"""The configuration in force: config, rules, templates and what is built from them, as one value.

A reload builds a whole new `Snapshot` and swaps it in with one assignment;
every unit of work (a group of messages, an outbox round, an SLA sweep)
takes the snapshot current when it starts and uses it to the end, so no
message is ever handled half under the old rules and half under the new.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from tierdesk.daemon.config import Config
from tierdesk.daemon.outgoing.compose import Composer
from tierdesk.daemon.outgoing.templating import Templates
from tierdesk.parsers.reply_address import KeyRing
from tierdesk.rules.handling.settings import IntakeTrust, Limits, Settings
from tierdesk.rules.model import RuleSet


@dataclass(frozen=True)
class Snapshot:
    """One consistent configuration: nothing in it changes once built."""

    config: Config
    rules: RuleSet
    templates: Templates
    composer: Composer
    settings: Settings
    keys: KeyRing

    @property
    def own_addresses(self) -> frozenset[str]:
        """Our support addresses, lower-cased."""
        return self.settings.own_addresses


def build_snapshot(
    config: Config, rules: RuleSet, instance_id: str, keys: KeyRing
) -> Snapshot:
    """Templates, composer and handling settings for a loaded config, rules and keys."""
    support = config.support
    templates = Templates(
        config.templates_dir, tuple(support.languages), support.default_language
    )
    composer = Composer(support, templates, instance_id, keys.current)
    return Snapshot(
        config, rules, templates, composer, settings_of(config, rules), keys
    )


def replace_keys(snapshot: Snapshot, keys: KeyRing) -> Snapshot:
    """The same snapshot with another key ring (a key was rotated)."""
    composer = Composer(
        snapshot.config.support,
        snapshot.templates,
        snapshot.composer.instance_id,
        keys.current,
    )
    return replace(snapshot, composer=composer, keys=keys)


def settings_of(config: Config, rules: RuleSet) -> Settings:
    """What handling reads of a configuration."""
    support, trust, limits = config.support, config.trust, config.limits
    return Settings(
        rules=rules,
        own_addresses=frozenset(a.lower() for a in support.addresses),
        own_list_ids=frozenset(
            i.strip().strip("<>").lower() for i in support.own_list_ids
        ),
        subject_tag=support.subject_tag,
        languages=tuple(support.languages),
        default_language=support.default_language,
        reopen_within=float(support.reopen_within),
        status_words=tuple(support.status_words),
        limits=Limits(
            automatic_per_hour=support.auto_replies_per_hour,
            automatic_per_day=support.auto_replies_per_day,
            notices_per_hour=limits.notices_per_hour,
            notices_per_day=limits.notices_per_day,
            relayed_per_hour=limits.relayed_per_hour,
            relayed_per_day=limits.relayed_per_day,
            new_tickets_per_hour=limits.new_tickets_per_hour,
            bounce_threshold=limits.bounce_threshold,
            bounce_stale_after=float(limits.bounce_stale_after),
            repeats_are_robots=limits.repeats_are_robots,
            repeat_window=float(limits.repeat_window),
        ),
        listener=IntakeTrust(authserv_id=trust.authserv_id),
        mailboxes={
            m.name: IntakeTrust(
                m.delivery_header,
                m.trust_return_path,
                m.authserv_id or trust.authserv_id,
            )
            for m in config.imap
        },
        require_verified_sender=trust.require_verified_sender,
        trusted_envelope_senders=tuple(trust.trusted_envelope_senders),
        strangers=trust.strangers,
        participants_domain=trust.participants_domain,
        reply_address_max_age=float(trust.reply_address_max_age),
        key_grace=float(trust.key_grace),
        attach_up_to=int(config.notices.attach_up_to),
        files_per_mail=int(config.notices.files_per_mail),
    )


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
