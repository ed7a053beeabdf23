"""What becomes of set-aside and old mail: `tierdesk spool release|drop|why` and `tierdesk purge`.

A quarantined message is released back into the pipeline, or dropped (kept
with the reason, never run again). `purge` empties the raw bytes of mail
processed or dropped longer ago than `retention.raw_mail_after` and deletes
attachment bytes no attachment uses; the daemon never purges by itself.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from tierdesk.daemon.admin import EX_NOTFOUND, EX_USAGE, emit
from tierdesk.daemon.runtime import Runtime
from tierdesk.rules.yamlschema import Duration, convert_scalar
from tierdesk.rules.yamlsource import Located, Problem
from tierdesk.storage import spool
from tierdesk.storage.purge import PurgeReport
from tierdesk.storage.purge import purge as purge_storage
from tierdesk.storage.spool import SpoolDetail


def add_spool_commands(
    spool_commands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """`spool release` (alias `retry`), `spool drop` and `spool why`."""
    p = spool_commands.add_parser(
        "release",
        aliases=["retry"],
        parents=[common],
        help="put quarantined messages back into the pipeline",
    )
    p.add_argument("ids", type=int, nargs="+", metavar="ID")
    p.set_defaults(handler=spool_release)
    p = spool_commands.add_parser(
        "drop",
        parents=[common],
        help="give up on quarantined messages: kept, with the reason, never processed",
    )
    p.add_argument("ids", type=int, nargs="+", metavar="ID")
    p.add_argument("--reason", default="", help="why (shown by `spool why`)")
    p.set_defaults(handler=spool_drop)
    p = spool_commands.add_parser(
        "why",
        parents=[common],
        help="why a message is where it is: reason, outcome, Message-ID, envelope, ticket",
    )
    p.add_argument("id", type=int, metavar="ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=spool_why)


def add_purge_command(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """`tierdesk purge`."""
    p = sub.add_parser(
        "purge",
        parents=[common],
        help="remove the raw bytes of mail processed long ago, and unused attachment bytes",
    )
    p.add_argument(
        "--older-than",
        metavar="AGE",
        help="processed or dropped longer ago than this, e.g. 90d "
        "(default: retention.raw_mail_after)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="say what would go, change nothing"
    )
    p.set_defaults(handler=purge)


def spool_release(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk spool release ID ...`: quarantined mail back into the pipeline."""
    count = spool.release(runtime.sql, args.ids)
    print(
        f"{count} message(s) back in the queue; the daemon processes them within seconds"
    )
    return _left_alone(runtime, args.ids, "release")


def spool_drop(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk spool drop ID ... [--reason TEXT]`: never process these quarantined messages."""
    count = spool.drop(runtime.sql, args.ids, args.reason, runtime.clock())
    print(
        f"{count} message(s) dropped: kept with the reason and never processed; "
        "`tierdesk purge` removes their raw bytes after retention.raw_mail_after"
    )
    return _left_alone(runtime, args.ids, "drop")


def _left_alone(runtime: Runtime, ids: list[int], verb: str) -> int:
    """Name each given item that was not quarantined (so nothing happened to it)."""
    found = spool.states(runtime.sql, ids)
    code = 0
    for spool_id in ids:
        state = found.get(spool_id)
        if state is None:
            print(f"tierdesk: no spool item {spool_id}", file=sys.stderr)
        elif verb == "release" and state == "new":
            continue  # released just now, or waiting already: either way in the queue
        elif verb == "drop" and state == "dropped":
            continue
        else:
            done = "released" if verb == "release" else "dropped"
            print(
                f"tierdesk: spool item {spool_id} is {state}, not quarantined: "
                f"left as it is (only quarantined mail can be {done})",
                file=sys.stderr,
            )
        code = EX_NOTFOUND
    return code


def spool_why(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk spool why ID`: the reason, outcome, Message-ID, envelope and ticket."""
    detail = spool.describe(runtime.sql, args.id)
    if detail is None:
        print(f"tierdesk: no spool item {args.id}", file=sys.stderr)
        return EX_NOTFOUND
    # mail-parser costs 40 ms to import; only this command uses it
    from tierdesk.daemon.mail_path import mail_path

    data = _detail_dict(detail)
    item = spool.load(runtime.sql, args.id)
    data["hops"] = [asdict(h) for h in mail_path(item.raw)] if item and item.raw else []
    emit(args, data, format_why)
    return 0


def _detail_dict(detail: SpoolDetail) -> dict[str, Any]:
    data = asdict(detail)
    for key in ("received_at", "processed_at", "purged_at"):
        data[key] = _iso(data[key])
    return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def format_why(d: dict[str, Any]) -> str:
    """`spool why` for people: one fact a line, then what can be done."""
    via = d["source"] + (f" from mailbox {d['mailbox']!r}" if d["mailbox"] else "")
    via += f" ({d['peer']})" if d["peer"] else ""
    raw = f"{d['size']} bytes" + (
        f", purged {d['purged_at']}" if d["purged_at"] else ""
    )
    lines = [
        f"spool item {d['id']}: {d['state']}",
        f"  reason      {d['error'] or '-'}",
        f"  outcome     {d['outcome'] or '-'}",
    ]
    if d["state"] == "dropped":
        lines.append(f"  dropped     {d['processed_at']}: {d['drop_reason'] or '-'}")
    lines += [
        f"  Message-ID  {'<' + d['message_id'] + '>' if d['message_id'] else '-'}",
        f"  envelope    from {d['mail_from'] or '-'} to {', '.join(d['rcpt_tos']) or '-'}",
        f"  received    {d['received_at']} via {via}",
        f"  processed   {d['processed_at'] or '-'} (attempts {d['attempts']})",
        f"  ticket      {d['ticket'] if d['ticket'] is not None else '-'}",
        f"  raw         {raw}",
    ]
    if d.get("hops"):
        lines.append("  path        as its Received headers claim, first hop first:")
        lines += [_format_hop(h) for h in d["hops"]]
    if d["state"] == "quarantined":
        lines.append(
            f"next: `tierdesk spool release {d['id']}` to process it again, or "
            f"`tierdesk spool drop {d['id']} --reason TEXT` to give up on it"
        )
    return "\n".join(lines)


def _format_hop(hop: dict[str, Any]) -> str:
    delay = f" +{hop['delay']:g}s" if hop["delay"] else ""
    how = f" with {hop['with_']}" if hop["with_"] else ""
    return f"    {hop['number']:>2}. {hop['from_'] or '?'} -> {hop['by'] or '?'}{how}, {hop['date'] or '?'}{delay}"


def parse_age(text: str) -> float | None:
    """An age like 90d, 12h, 30m or 3600 (seconds), in seconds; None if it is not one."""
    problems: list[Problem] = []
    value = convert_scalar(
        Duration, Located(text, "--older-than", None), "--older-than", problems
    )
    return None if problems else float(value)


def purge(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk purge [--older-than AGE] [--dry-run]`."""
    age = runtime.config.retention.raw_mail_after
    if args.older_than is not None:
        age = parse_age(args.older_than)
        if age is None:
            print(
                f"tierdesk: --older-than must be an age like 90d, 12h or 30m, "
                f"not {args.older_than!r}",
                file=sys.stderr,
            )
            return EX_USAGE
    now = runtime.clock()
    cutoff = now - timedelta(seconds=age)
    report = purge_storage(runtime.sql, cutoff, now, dry_run=args.dry_run)
    print(format_purge(report, cutoff, args.dry_run, runtime.sql.sqlite))
    return 0


def format_purge(
    report: PurgeReport, cutoff: datetime, dry_run: bool, sqlite: bool
) -> str:
    """What a purge removed (or would remove), and the bytes freed."""
    would = "would " if dry_run else ""
    before = cutoff.strftime("%Y-%m-%d %H:%M UTC")
    mail, blobs = report.raw_mail, report.blobs
    lines = [
        f"{would}purge the raw bytes of {mail.rows} message(s) processed or dropped "
        + f"before {before}: {_size(mail.bytes)}",
        f"{would}remove {blobs.rows} attachment blob(s) no attachment uses: "
        + _size(blobs.bytes),
        f"{'would free' if dry_run else 'freed'} {_size(report.bytes)} in all",
    ]
    if dry_run:
        lines.append("nothing was changed (--dry-run)")
    elif sqlite and report.bytes:
        lines.append(
            "SQLite reuses the freed space; the file itself shrinks only with VACUUM"
        )
    return "\n".join(lines)


def _size(count: int) -> str:
    """A byte count for people: 512 bytes, 1.2 KB, 3.4 MB."""
    if count < 1024:
        return f"{count} bytes"
    scaled = float(count)
    for unit in ("KB", "MB"):
        scaled /= 1024
        if scaled < 1024:
            return f"{scaled:.1f} {unit}"
    return f"{scaled / 1024:.1f} GB"
