"""`tierdesk tickets search QUERY` and `tierdesk db reindex`: the full-text index by hand."""

from __future__ import annotations

import argparse
import json
import sys

from tierdesk.daemon.runtime import Runtime
from tierdesk.storage.search import rebuild_search_index
from tierdesk.storage.search_query import Hit, search

DEFAULT_LIMIT = 20
STATUSES = ("new", "open", "pending", "resolved", "closed")


def add_search_command(
    tickets: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """`tickets search QUERY [--status S] [--limit N] [--json]`."""
    p = tickets.add_parser(
        "search",
        parents=[common],
        help="tickets whose messages match QUERY (every word, stemmed), best first",
    )
    p.add_argument("query", nargs="+", help="words to find (English, Russian)")
    p.add_argument("--status", choices=STATUSES, help="only tickets with this status")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="at most N tickets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=tickets_search)


def add_reindex_command(
    db: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """`db reindex`."""
    p = db.add_parser(
        "reindex", parents=[common], help="rebuild the full-text index of messages"
    )
    p.set_defaults(handler=db_reindex, create_if_empty=False)


def hit_row(hit: Hit) -> dict[str, object]:
    """One search result as JSON-ready data."""
    return {
        "number": hit.number,
        "subject": hit.subject,
        "status": hit.status,
        "queue": hit.queue,
        "tier": hit.tier,
        "updated_at": hit.updated_at.isoformat() if hit.updated_at else None,
        "score": round(hit.score, 4),
        "snippet": hit.snippet,
    }


def tickets_search(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk tickets search QUERY`: exits 1 when nothing matches."""
    statuses = (args.status,) if args.status else ()
    hits = search(
        runtime.sql, " ".join(args.query), limit=max(args.limit, 1), statuses=statuses
    )
    if args.json:
        print(json.dumps([hit_row(h) for h in hits], ensure_ascii=False, indent=2))
    else:
        for hit in hits:
            print(f"#{hit.number:<6} {hit.status:<8} {hit.queue:<10} {hit.subject}")
            print(f"        {hit.snippet}")
        if not hits:
            print("no ticket matches", file=sys.stderr)
    return 0 if hits else 1


def db_reindex(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk db reindex`: the index emptied and filled again, in one transaction."""
    count = rebuild_search_index(runtime.db)
    print(f"reindexed {count} messages")
    return 0
