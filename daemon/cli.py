"""The `tierdesk` command: run the daemon, inject mail, inspect tickets, outbox and spool."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from peewee import DatabaseError

from daemon.checks import run_checks
from daemon.config import Config, load_config
from daemon.inject import EX_TEMPFAIL, inject, inputs
from daemon.reports import (
    format_rows,
    format_ticket_detail,
    format_ticket_list,
    outbox_rows,
    spool_rows,
    ticket_detail,
    ticket_rows,
)
from daemon.runtime import Runtime, configure_logging, open_runtime
from rules.yamlsource import SourceError
from storage import spool
from storage.db import StorageError, open_database
from storage.schema import SchemaError, upgrade

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
    configure_logging(config.log_level)
    if not getattr(args, "needs_storage", True):
        return args.handler(args, config)
    runtime = _open(config, create_if_empty=getattr(args, "create_if_empty", True))
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
    p.set_defaults(needs_secrets=True)

    p = command(
        "inject",
        _inject,
        "ingest raw messages from files or stdin, as an MTA pipe would",
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

    p = command(
        "check-config",
        _check_config,
        "validate the config; try storage, templates, each IMAP login and the relay",
    )
    p.set_defaults(create_if_empty=False, needs_secrets=True)

    tickets = sub.add_parser("tickets", help="list and show tickets").add_subparsers(
        title="tickets commands"
    )
    p = tickets.add_parser("list", parents=[common], help="list tickets, newest first")
    p.add_argument("--status", help="only tickets with this status")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_tickets_list)
    p = tickets.add_parser(
        "show", parents=[common], help="one ticket with its messages and timeline"
    )
    p.add_argument("number", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_tickets_show)

    box = sub.add_parser("outbox", help="outgoing mail").add_subparsers(
        title="outbox commands"
    )
    p = box.add_parser("list", parents=[common], help="outgoing mail, newest first")
    p.add_argument("--state", choices=["pending", "sent", "failed"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_outbox_list)

    sp = sub.add_parser(
        "spool", help="received raw mail and quarantine"
    ).add_subparsers(title="spool commands")
    p = sp.add_parser("list", parents=[common], help="received messages, newest first")
    p.add_argument("--state", choices=["new", "done", "quarantined"])
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_spool_list)
    p = sp.add_parser(
        "retry",
        parents=[common],
        help="put quarantined messages back into the pipeline",
    )
    p.add_argument("ids", type=int, nargs="+")
    p.set_defaults(handler=_spool_retry)
    p = sp.add_parser(
        "show", parents=[common], help="print a spooled message's raw bytes"
    )
    p.add_argument("id", type=int)
    p.set_defaults(handler=_spool_show)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        title="db commands"
    )
    p = db.add_parser("upgrade", parents=[common], help="create or migrate the schema")
    p.set_defaults(handler=_db_upgrade, needs_storage=False)
    return parser


def _open(config: Config, create_if_empty: bool = True) -> Runtime | int:
    try:
        return open_runtime(config, create_if_empty=create_if_empty)
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
    try:
        return asyncio.run(_serve(runtime))
    except OSError as exc:
        print(
            f"tierdesk: cannot listen on {config.smtp.host}:{config.smtp.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return EX_CONFIG


async def _serve(runtime: Runtime) -> int:
    from daemon.service import serve

    return await serve(runtime)


def _inject(args: argparse.Namespace, runtime: Runtime) -> int:
    return inject(
        runtime,
        inputs(args.files, sys.stdin.buffer),
        sys.stdout,
        args.sender,
        tuple(args.recipient),
    )


def _check_config(args: argparse.Namespace, runtime: Runtime) -> int:
    checks = run_checks(runtime)
    for check in checks:
        print(check)
    return 0 if all(check.ok for check in checks) else 1


def _emit(args: argparse.Namespace, data: Any, text: Callable[[Any], str]) -> None:
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=None))
    else:
        print(text(data))


def _tickets_list(args: argparse.Namespace, runtime: Runtime) -> int:
    _emit(args, ticket_rows(args.status, args.limit), format_ticket_list)
    return 0


def _tickets_show(args: argparse.Namespace, runtime: Runtime) -> int:
    detail = ticket_detail(args.number)
    if detail is None:
        print(f"tierdesk: no ticket {args.number}", file=sys.stderr)
        return EX_NOTFOUND
    _emit(args, detail, format_ticket_detail)
    return 0


def _outbox_list(args: argparse.Namespace, runtime: Runtime) -> int:
    columns = ["id", "ticket", "kind", "state", "attempts", "to", "last_error"]
    _emit(args, outbox_rows(args.state), lambda rows: format_rows(rows, columns))
    return 0


def _spool_list(args: argparse.Namespace, runtime: Runtime) -> int:
    columns = [
        "id",
        "received_at",
        "source",
        "state",
        "outcome",
        "ticket",
        "size",
        "message_id",
        "error",
    ]
    _emit(
        args,
        spool_rows(args.state, args.limit),
        lambda rows: format_rows(rows, columns),
    )
    return 0


def _spool_retry(args: argparse.Namespace, runtime: Runtime) -> int:
    count = spool.retry(runtime.sql, args.ids)
    print(
        f"{count} message(s) back in the queue; the daemon processes them within seconds"
    )
    return 0 if count else EX_NOTFOUND


def _spool_show(args: argparse.Namespace, runtime: Runtime) -> int:
    item = spool.load(runtime.sql, args.id)
    if item is None:
        print(f"tierdesk: no spool item {args.id}", file=sys.stderr)
        return EX_NOTFOUND
    sys.stdout.buffer.write(item.raw)
    return 0


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
