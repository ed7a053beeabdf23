"""Building the parts of a running tierdesk from its configuration, once."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import timedelta

from peewee import Database
from tierdesk.daemon.config import Config
from tierdesk.daemon.config_load import read_secrets
from tierdesk.daemon.logging_setup import install_handler
from tierdesk.daemon.outgoing.sender import Sender
from tierdesk.daemon.parsing import ParseRunner
from tierdesk.daemon.pipeline import Pipeline
from tierdesk.daemon.snapshot import Live, Snapshot, build_snapshot
from tierdesk.parsers.reply_address import KeyRing, SigningKey
from tierdesk.rules.load import builtin_rules, load_rules
from tierdesk.rules.model import RuleSet
from tierdesk.storage.claims import Claimant
from tierdesk.storage.clock import Clock, system_clock
from tierdesk.storage.db import open_database
from tierdesk.storage.keys import load_keys
from tierdesk.storage.schema import ensure_schema, instance_id
from tierdesk.storage.sql import Sql

log = logging.getLogger("tierdesk")


@dataclass(frozen=True)
class Runtime:
    """The database, the configuration in force, the pipeline, the sender and the clock."""

    db: Database
    sql: Sql
    live: Live
    pipeline: Pipeline
    sender: Sender
    clock: Clock
    instance_id: str
    claimant: Claimant

    @property
    def config(self) -> Config:
        """The configuration in force."""
        return self.live.current.config

    @property
    def snapshot(self) -> Snapshot:
        """Config, rules, templates and composer in force."""
        return self.live.current

    def keys(self, config: Config) -> KeyRing:
        """The signing keys: from the config's secret file, else from the database."""
        return configured_keys(config) or load_keys(self.sql, self.clock())

    def close(self) -> None:
        """Stop the parse workers and close this thread's database connection."""
        self.pipeline.parser.close()
        self.db.close()


def open_runtime(
    config: Config,
    create_if_empty: bool = True,
    with_rules: bool = True,
    clock: Clock = system_clock,
) -> Runtime:
    """Open storage (refusing an unknown schema), load rules and templates, wire the stages.

    Raises StorageError or SchemaError when the database is not usable, and
    SourceError when the rules file is not valid.
    """
    db = open_database(config.storage_url, config.cluster.max_connections)
    ensure_schema(db, create_if_empty=create_if_empty)
    sql = Sql(db)
    instance = instance_id(db)
    rules = load_configured_rules(config) if with_rules else builtin_rules()
    keys = configured_keys(config) or load_keys(sql, clock())
    live = Live(build_snapshot(config, rules, instance, keys))
    parser = ParseRunner(config.pipeline.parse_workers, config.pipeline.parse_timeout)
    claimant = Claimant(hold_for=timedelta(seconds=config.cluster.claim_timeout))
    pipeline = Pipeline(db, sql, live, parser, clock, claimant)
    sender = Sender(sql, config.outgoing_maildir, clock, live, claimant)
    return Runtime(db, sql, live, pipeline, sender, clock, instance, claimant)


def configured_keys(config: Config) -> KeyRing | None:
    """Keys from `support.secret_file` (one secret per line, the first signs) or `secret_env`."""
    support = config.support
    secrets = read_secrets(support.secret_file, support.secret_env, dict(os.environ))
    if not secrets:
        return None
    keys = tuple(SigningKey(_key_id(s), s.encode()) for s in secrets)
    return KeyRing(keys, legacy=keys[0].secret)


def _key_id(secret: str) -> str:
    """A stable two-character id for a configured secret."""
    digest = hashlib.sha256(secret.encode()).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:2]


def load_configured_rules(config: Config) -> RuleSet:
    """The rules file the config names (raises SourceError), or the built-in routing."""
    if config.rules is None:
        return builtin_rules()
    return load_rules(config.rules, tuple(config.support.languages))


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log lines to stderr, as text or JSON (journald adds the timestamps under systemd)."""
    install_handler(level, log_format)
    # the scheduler narrates every job it adds; mail-parser warns about every
    # part type it skips and every header it cannot decode (we keep those as defects)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("mailparser").setLevel(logging.ERROR)
    logging.getLogger("mail.log").setLevel(
        logging.WARNING
    )  # aiosmtpd: every dropped connection
