"""The `tierdesk` command: run the daemon, inject mail, inspect tickets, outbox and spool."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from peewee import DatabaseError
from tierdesk.daemon import (
    admin,
    backup_admin,
    contacts_admin,
    retention,
    search_admin,
    trust_admin,
)
from tierdesk.daemon.answers import add_answers_command
from tierdesk.daemon.config import Config
from tierdesk.daemon.config_load import load_config
from tierdesk.daemon.intake.inject import EX_TEMPFAIL, inject, inputs
from tierdesk.daemon.oauth2_admin import add_oauth2_command
from tierdesk.daemon.reports import DEFAULT_LIMIT
from tierdesk.daemon.runtime import Runtime, configure_logging, open_runtime
from tierdesk.daemon.sole_daemon import AnotherDaemon, claim_database
from tierdesk.daemon.supervisor_report import add_report_command
from tierdesk.rules.yamlsource import SourceError
from tierdesk.storage.db import StorageError, is_sqlite, open_database
from tierdesk.storage.schema import SchemaError, upgrade

EX_USAGE = 64
EX_NOTFOUND = 1
EX_CONFIG = 78


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tierdesk` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EX_USAGE
    try:
        config = load_config(
            getattr(args, "config", None),
            require_secrets=getattr(args, "needs_secrets", False),
        )
    except SourceError as exc:
        print(f"tierdesk: invalid configuration:\n{exc}", file=sys.stderr)
        return EX_CONFIG
    configure_logging(config.log_level, config.log_format)
    if not getattr(args, "needs_storage", True):
        return args.handler(args, config)
    runtime = _open(
        config,
        create_if_empty=getattr(args, "create_if_empty", True),
        with_rules=getattr(args, "needs_rules", False),
    )
    if isinstance(runtime, int):
        return runtime
    try:
        return args.handler(args, runtime)
    finally:
        runtime.close()


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        "-c",
        default=argparse.SUPPRESS,
        help="config file (default: $TIERDESK_CONFIG, else built in)",
    )
    parser = argparse.ArgumentParser(
        prog="tierdesk", description=__doc__, parents=[common]
    )
    sub = parser.add_subparsers(title="commands")

    def command(
        name: str, handler: Callable[[argparse.Namespace, Any], int], help_text: str
    ) -> Any:
        p = sub.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        p.set_defaults(handler=handler)
        return p

    p = command(
        "run", _run, "run the daemon (SMTP listener, IMAP pollers, pipeline, sender)"
    )
    p.set_defaults(needs_secrets=True, needs_rules=True)

    p = command(
        "inject",
        _inject,
        "ingest raw messages from files or stdin, as an MTA pipe would",
    )
    p.epilog = (
        "Exit status 0 when every message was spooled; 75 (EX_TEMPFAIL) when storage "
        "is unavailable, so the MTA retries; 65 (EX_DATAERR) when a message is over "
        "smtp.max_message_size: it is not spooled (its JSON line says 'refused'), and "
        "the MTA bounces it quoting our stderr line, as the listener's 552 would. "
        "The other messages given are processed all the same."
    )
    p.add_argument(
        "files", nargs="*", help="message files (default: one message on stdin)"
    )
    p.add_argument(
        "--sender", help="envelope sender, as the MTA knows it ('' for a bounce)"
    )
    p.add_argument(
        "--recipient",
        action="append",
        default=[],
        help="envelope recipient (repeatable)",
    )
    p.set_defaults(needs_rules=True)

    p = command(
        "status",
        _status,
        "every live daemon, what it holds, queue depths; exit 2 when something is stuck",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(create_if_empty=False)

    rules = sub.add_parser(
        "rules", help="check and try the routing rules"
    ).add_subparsers(title="rules commands")
    p = rules.add_parser(
        "check", parents=[common], help="validate a rules file and run its examples"
    )
    p.add_argument(
        "file", nargs="?", help="rules file (default: the one the config names)"
    )
    p.set_defaults(handler=admin.rules_check, needs_storage=False)
    p = rules.add_parser(
        "test", parents=[common], help="show which rules a message matches, and why"
    )
    p.add_argument("messages", nargs="+", help=".eml files")
    p.add_argument("--rules", help="rules file (default: the one the config names)")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--now", help="evaluate at this time (ISO 8601), for business-hours rules"
    )
    p.add_argument("--mailbox", default="", help="as if fetched from this IMAP mailbox")
    p.add_argument(
        "--known-customer",
        action="store_true",
        help="as if the sender had written before",
    )
    p.set_defaults(handler=admin.rules_test, needs_storage=False)

    p = command(
        "check-config",
        _check_config,
        "validate the config; try storage, templates, each IMAP login and the relay",
    )
    p.set_defaults(create_if_empty=False, needs_secrets=True, needs_rules=True)

    tickets = sub.add_parser("tickets", help="list and show tickets").add_subparsers(
        title="tickets commands"
    )
    p = tickets.add_parser("list", parents=[common], help="list tickets, newest first")
    p.add_argument("--status", help="only tickets with this status")
    _add_limit(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=admin.tickets_list)
    p = tickets.add_parser(
        "show", parents=[common], help="one ticket with its messages and timeline"
    )
    p.add_argument("number", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=admin.tickets_show)
    p = tickets.add_parser(
        "update", parents=[common], help="change a ticket (each change is an event)"
    )
    p.add_argument("number", type=int)
    p.add_argument("--status", choices=["new", "open", "pending", "resolved", "closed"])
    p.add_argument("--tier", type=int, choices=[1, 2, 3, 4])
    p.add_argument("--queue")
    p.add_argument("--priority", choices=["low", "normal", "high", "urgent"])
    p.add_argument("--assign", help="agent name ('' to unassign)")
    p.add_argument(
        "--responded",
        action="store_true",
        help="record the first response (stops that SLA clock)",
    )
    p.add_argument(
        "--by", default="admin", help="who made the change, for the timeline"
    )
    p.set_defaults(handler=admin.tickets_update, needs_rules=True)
    trust_admin.add_participants_command(tickets, common)
    search_admin.add_search_command(tickets, common)
    trust_admin.add_commands(sub, common)
    contacts_admin.add_contacts_command(sub, common)
    add_oauth2_command(sub, common)
    add_report_command(sub, common)

    box = sub.add_parser("outbox", help="outgoing mail").add_subparsers(
        title="outbox commands"
    )
    p = box.add_parser("list", parents=[common], help="outgoing mail, newest first")
    p.add_argument("--state", choices=["pending", "sent", "failed"])
    _add_limit(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=admin.outbox_list)

    sp = sub.add_parser(
        "spool", help="received raw mail and quarantine"
    ).add_subparsers(title="spool commands")
    p = sp.add_parser("list", parents=[common], help="received messages, newest first")
    p.add_argument("--state", choices=["new", "done", "quarantined", "dropped"])
    _add_limit(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=admin.spool_list)
    retention.add_spool_commands(sp, common)
    p = sp.add_parser(
        "show", parents=[common], help="print a spooled message's raw bytes"
    )
    p.add_argument("id", type=int)
    p.set_defaults(handler=admin.spool_show)
    retention.add_purge_command(sub, common)
    backup_admin.add_commands(sub, common)
    add_answers_command(sub, common)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        title="db commands"
    )
    p = db.add_parser("upgrade", parents=[common], help="create or migrate the schema")
    p.set_defaults(handler=_db_upgrade, needs_storage=False)
    search_admin.add_reindex_command(db, common)
    return parser


def _add_limit(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"show the newest N (default {DEFAULT_LIMIT}; 0 shows all); "
        "a cut list says so on stderr",
    )


def _open(
    config: Config, create_if_empty: bool = True, with_rules: bool = False
) -> Runtime | int:
    try:
        return open_runtime(
            config, create_if_empty=create_if_empty, with_rules=with_rules
        )
    except SourceError as exc:
        print(
            f"tierdesk: the rules are not valid, nothing was started:\n{exc}",
            file=sys.stderr,
        )
        return EX_CONFIG
    except SchemaError as exc:
        print(f"tierdesk: {exc}", file=sys.stderr)
        return EX_CONFIG
    except (StorageError, DatabaseError) as exc:
        print(
            f"tierdesk: storage unavailable ({config.storage_url}): {exc}",
            file=sys.stderr,
        )
        return EX_TEMPFAIL


def _run(args: argparse.Namespace, runtime: Runtime) -> int:
    config = runtime.config
    claim = None
    if is_sqlite(runtime.db):
        try:
            claim = claim_database(Path(runtime.db.database), runtime.clock())
        except AnotherDaemon as exc:
            print(f"tierdesk: {exc}", file=sys.stderr)
            return EX_CONFIG
    try:
        return asyncio.run(_serve(runtime))
    except OSError as exc:
        # the metrics listener (and a Unix socket) name themselves in `filename`
        where = exc.filename or f"{config.smtp.host}:{config.smtp.port}"
        print(f"tierdesk: cannot listen on {where}: {exc.strerror}", file=sys.stderr)
        return EX_CONFIG
    finally:
        if claim is not None:
            claim.release()


async def _serve(runtime: Runtime) -> int:
    from tierdesk.daemon.service import serve

    return await serve(runtime)


def _inject(args: argparse.Namespace, runtime: Runtime) -> int:
    return inject(
        runtime,
        inputs(args.files, sys.stdin.buffer),
        sys.stdout,
        args.sender,
        tuple(args.recipient),
    )


def _status(args: argparse.Namespace, runtime: Runtime) -> int:
    from tierdesk.daemon.status import status_command

    return status_command(args, runtime)


def _check_config(args: argparse.Namespace, runtime: Runtime) -> int:
    # the checks import the IMAP client (30 ms), which inject never needs
    from tierdesk.daemon.checks import run_checks

    checks = run_checks(runtime)
    for check in checks:
        print(check)
    return 0 if all(check.ok for check in checks) else 1


def _db_upgrade(args: argparse.Namespace, config: Config) -> int:
    db = None
    try:
        db = open_database(config.storage_url)
        applied = upgrade(db)
    except SchemaError as exc:
        print(f"tierdesk: {exc}", file=sys.stderr)
        return EX_CONFIG
    except (StorageError, DatabaseError) as exc:
        print(
            f"tierdesk: storage unavailable ({config.storage_url}): {exc}",
            file=sys.stderr,
        )
        return EX_TEMPFAIL
    finally:
        if db is not None:
            db.close()
    print(
        f"schema upgraded to version {applied[-1]}"
        if applied
        else "schema is up to date"
    )
    return 0
