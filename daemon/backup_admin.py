"""`tierdesk backup`, `tierdesk restore` and `tierdesk export`: the desk kept and handed over.

A SQLite desk is copied while the daemon runs (`storage.backup`); a
PostgreSQL desk is dumped with `pg_dump`, whose line we print. Export
writes tickets' whole mail history as an mbox that any mail client opens.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from tierdesk.daemon.admin import EX_NOTFOUND, EX_USAGE
from tierdesk.daemon.config import Config
from tierdesk.daemon.runtime import Runtime
from tierdesk.daemon.sole_daemon import AnotherDaemon, claim_database
from tierdesk.storage.backup import (
    BackupError,
    CopyReport,
    backup_sqlite,
    restore_sqlite,
)
from tierdesk.storage.ticket_mail import ticket_mails
from tierdesk.storage.tickets import ticket_by_number

EX_CANTCREAT = 73
EX_TEMPFAIL = 75


def add_commands(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """`backup PATH`, `restore PATH` and `export TICKET... --mbox FILE`."""
    p = sub.add_parser(
        "backup",
        parents=[common],
        help="a consistent copy of the SQLite database, taken while the daemon runs "
        "(on PostgreSQL: prints the pg_dump line)",
    )
    p.add_argument("path", type=Path, help="the new file to write (never overwritten)")
    p.set_defaults(handler=backup, needs_storage=False)
    p = sub.add_parser(
        "restore",
        parents=[common],
        help="put a backup in place of the SQLite database (the daemon stopped); "
        "the database it replaces is kept beside it",
    )
    p.add_argument("path", type=Path, help="a file written by `tierdesk backup`")
    p.set_defaults(handler=restore, needs_storage=False)
    p = sub.add_parser(
        "export", parents=[common], help="tickets' whole mail history as an mbox file"
    )
    p.add_argument("numbers", type=int, nargs="+", metavar="TICKET")
    p.add_argument(
        "--mbox", type=Path, required=True, help="the new mbox file to write"
    )
    p.set_defaults(handler=export)


def sqlite_file(url: str) -> Path | None:
    """The database file of a sqlite:/// URL (None for any other database)."""
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def pg_dump_line(url: str, target: Path) -> str:
    """The pg_dump command that backs up the desk at a postgresql:// URL."""
    parts = urlsplit(url)
    schema = parse_qs(parts.query).get("schema", [""])[0]
    plain = urlunsplit(parts._replace(query=""))
    line = f"pg_dump --format=custom --file={target} '{plain}'"
    return line + (f" --schema={schema}" if schema else "")


def backup(args: argparse.Namespace, config: Config) -> int:
    """`tierdesk backup PATH`."""
    database = sqlite_file(config.storage_url)
    if database is None:
        print(
            "tierdesk: backup copies SQLite databases; for PostgreSQL run\n  "
            + pg_dump_line(config.storage_url, args.path)
            + "\nand keep the config, rules, templates and secrets beside it (README: Backups)",
            file=sys.stderr,
        )
        return EX_USAGE
    try:
        report = backup_sqlite(database, args.path)
    except BackupError as exc:
        print(f"tierdesk: no backup made: {exc}", file=sys.stderr)
        return EX_CANTCREAT
    print(f"backed up {database} to {_described(report)}")
    return 0


def restore(args: argparse.Namespace, config: Config) -> int:
    """`tierdesk restore PATH`: the daemon must be stopped (its claim is taken meanwhile)."""
    database = sqlite_file(config.storage_url)
    if database is None:
        print(
            "tierdesk: restore puts SQLite backups back; for PostgreSQL use "
            f"pg_restore --clean --if-exists --dbname='{config.storage_url}' FILE",
            file=sys.stderr,
        )
        return EX_USAGE
    database.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    try:
        claim = claim_database(database, now)
    except AnotherDaemon as exc:
        print(f"tierdesk: nothing restored: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    try:
        report, set_aside = restore_sqlite(args.path, database, now)
    except BackupError as exc:
        print(f"tierdesk: nothing restored: {exc}", file=sys.stderr)
        return EX_CANTCREAT
    finally:
        claim.release()
    print(f"restored {_described(report)}")
    if set_aside is not None:
        print(f"the database it replaced is kept as {set_aside}")
    return 0


def export(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk export TICKET... --mbox FILE`."""
    tickets = {n: ticket_by_number(runtime.sql, n) for n in args.numbers}
    missing = [str(n) for n, ticket in tickets.items() if ticket is None]
    if missing:
        print(
            f"tierdesk: no ticket {', '.join(missing)}; nothing written",
            file=sys.stderr,
        )
        return EX_NOTFOUND
    if args.mbox.exists():
        print(f"tierdesk: {args.mbox} exists; name a new file", file=sys.stderr)
        return EX_CANTCREAT
    partial = args.mbox.with_name(args.mbox.name + ".partial")
    partial.unlink(missing_ok=True)
    box = mailbox.mbox(partial)
    count = rebuilt = 0
    for ticket in tickets.values():
        assert ticket is not None
        for mail in ticket_mails(runtime.sql, ticket.id):
            entry = mailbox.mboxMessage(mail.raw)
            entry.set_from(mail.sender, mail.when.astimezone(UTC).timetuple())
            box.add(entry)
            count += 1
            rebuilt += mail.rebuilt
    box.flush()
    box.close()
    os.replace(partial, args.mbox)
    note = f" ({rebuilt} rebuilt: their original bytes were purged)" if rebuilt else ""
    print(f"exported {count} mails of {len(tickets)} tickets to {args.mbox}{note}")
    return 0


def _described(report: CopyReport) -> str:
    return (
        f"{report.path}: {report.size / 1e6:.1f} MB, schema {report.schema_version}, "
        f"{report.tickets} tickets, {report.messages} messages"
    )
