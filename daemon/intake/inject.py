"""`tierdesk inject`: take raw messages the way an MTA pipe would (like RT's rt-mailgate).

Messages are spooled in durable commits of up to CHUNK messages, then each
is processed and one JSON line per message says what happened. If spooling
fails the exit status is 75 (EX_TEMPFAIL), so the MTA keeps the mail and
retries; what was already spooled is recognised then as a duplicate.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TextIO

from tierdesk.daemon.pipeline import outcome_of
from tierdesk.daemon.runtime import Runtime
from tierdesk.rules.handling.outcome import deferred
from tierdesk.storage import spool
from tierdesk.storage.db import StorageError

EX_OK = 0
EX_NOINPUT = 66
EX_TEMPFAIL = 75
CHUNK = 200


def inputs(paths: Iterable[str], stdin: BinaryIO) -> list[Callable[[], bytes]]:
    """One reader per named file, or one for stdin when no file is named."""
    paths = list(paths)
    if not paths:
        return [stdin.read]
    return [Path(p).read_bytes for p in paths]


def inject(
    runtime: Runtime,
    readers: list[Callable[[], bytes]],
    out: TextIO,
    sender: str | None = None,
    recipients: tuple[str, ...] = (),
) -> int:
    """Spool, then process, then report each message; returns the exit status."""
    for chunk in _chunks(readers, CHUNK):
        try:
            arrivals = [
                spool.Arrival(
                    raw=read(), source="inject", mail_from=sender, rcpt_tos=recipients
                )
                for read in chunk
            ]
        except OSError as exc:
            print(f"tierdesk inject: {exc}", file=sys.stderr)
            return EX_NOINPUT
        try:
            ids = spool.spool(runtime.sql, arrivals, runtime.clock())
        except StorageError as exc:
            print(f"tierdesk inject: {exc}; the MTA should retry", file=sys.stderr)
            return EX_TEMPFAIL
        del arrivals
        for spool_id, processed in zip(
            ids, runtime.pipeline.process_many(ids), strict=True
        ):
            outcome = processed or outcome_of(runtime.sql, spool_id) or deferred()
            out.write(outcome.as_json() + "\n")
        out.flush()
    return EX_OK


def _chunks(
    items: list[Callable[[], bytes]], size: int
) -> Iterator[list[Callable[[], bytes]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
