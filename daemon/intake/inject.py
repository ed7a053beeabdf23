"""`tierdesk inject`: take raw messages the way an MTA pipe would (like RT's rt-mailgate).

Messages are spooled in durable commits of up to CHUNK messages, then all
are processed and one JSON line per message says what happened. If spooling
fails the exit status is 75 (EX_TEMPFAIL), so the MTA keeps the mail and
retries; what was already spooled is recognised then as a duplicate.

A message over `smtp.max_message_size` is not spooled: like the listener's
552 it is refused for good, with exit status 65 (EX_DATAERR), which Postfix's
pipe turns into a bounce that quotes our stderr line. Only the first
max_message_size + 1 bytes of it are ever held in memory.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from functools import partial
from pathlib import Path
from typing import BinaryIO, TextIO

from tierdesk.daemon.runtime import Runtime
from tierdesk.parsers.headers import extract_message_id
from tierdesk.rules.handling.outcome import deferred
from tierdesk.storage import spool
from tierdesk.storage.db import StorageError
from tierdesk.storage.spool import outcome_of

EX_OK = 0
EX_DATAERR = 65
EX_NOINPUT = 66
EX_TEMPFAIL = 75
CHUNK = 1000  # messages spooled in one durable commit, at most ...
CHUNK_BYTES = 32 * 1024 * 1024  # ... and this many bytes of them
HEAD_BYTES = 64 * 1024  # enough of an oversize message to find its Message-ID
DISCARD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Oversize:
    """A message over the size limit: its size and its start, not the whole of it."""

    size: int
    head: bytes

    def message_id(self) -> str:
        """The Message-ID from the headers, without brackets; '' when there is none."""
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(self.head)
        return extract_message_id(str(headers.get("Message-ID", ""))) or ""


Reader = Callable[[int], bytes | Oversize]


def inputs(paths: Iterable[str], stdin: BinaryIO) -> list[Reader]:
    """One reader per named file, or one for stdin when no file is named; each
    is called with the size limit."""
    paths = list(paths)
    if not paths:
        return [partial(read_at_most, stdin)]
    return [partial(_read_file, Path(p)) for p in paths]


def read_at_most(stream: BinaryIO, limit: int) -> bytes | Oversize:
    """The whole message, or Oversize once it has more than `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) <= limit:
        return data
    return Oversize(_total_size(stream, len(data)), data[:HEAD_BYTES])


def _total_size(stream: BinaryIO, already_read: int) -> int:
    """The size of an oversize message, for the refusal; a pipe is read to its end
    (and thrown away) so the MTA does not see a broken pipe."""
    try:
        details = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        details = None
    if details is not None and stat.S_ISREG(details.st_mode):
        return details.st_size
    size = already_read
    while chunk := stream.read(DISCARD_BYTES):
        size += len(chunk)
    return size


def _read_file(path: Path, limit: int) -> bytes | Oversize:
    with path.open("rb") as stream:
        return read_at_most(stream, limit)


def inject(
    runtime: Runtime,
    readers: list[Reader],
    out: TextIO,
    sender: str | None = None,
    recipients: tuple[str, ...] = (),
) -> int:
    """Spool all, then process all, then report each message; returns the exit status.

    Processing all at once keeps the parse workers busy from the first
    message to the last (each round of processing starts them empty). If
    reading or spooling stops part-way, what was spooled is still processed
    and reported, and the exit status says why the rest was not taken.
    """
    limit = int(runtime.config.smtp.max_message_size)
    # the workers start up while the files are read and spooled
    runtime.pipeline.parser.spawn()
    envelope = (sender, recipients)
    taken: list[int | Oversize] = []  # a spool id or a refusal, in input order
    status = EX_OK
    pending = iter(readers)
    while status == EX_OK:
        arrivals, refused, unreadable = _read_chunk(pending, limit, envelope)
        if unreadable is not None:  # what was read before it is still taken
            print(f"tierdesk inject: {unreadable}", file=sys.stderr)
            status = EX_NOINPUT
        if not refused:
            break
        try:
            ids = (
                spool.spool(runtime.sql, arrivals, runtime.clock()) if arrivals else []
            )
        except StorageError as exc:
            print(f"tierdesk inject: {exc}; the MTA should retry", file=sys.stderr)
            status = EX_TEMPFAIL
            break
        spooled = iter(ids)
        taken += [r if r is not None else next(spooled) for r in refused]
    _report(runtime, taken, out, limit)
    if status == EX_OK and any(isinstance(t, Oversize) for t in taken):
        status = EX_DATAERR
    return status


def _read_chunk(
    pending: Iterator[Reader], limit: int, envelope: tuple[str | None, tuple[str, ...]]
) -> tuple[list[spool.Arrival], list[Oversize | None], OSError | None]:
    """The next messages for one durable commit: the arrivals, per message its
    refusal or None, and the error that stopped the reading, if one did."""
    sender, recipients = envelope
    arrivals: list[spool.Arrival] = []
    refused: list[Oversize | None] = []
    size = 0
    for read in pending:
        try:
            message = read(limit)
        except OSError as exc:
            return arrivals, refused, exc
        if isinstance(message, Oversize):
            refused.append(message)
        else:
            refused.append(None)
            size += len(message)
            arrivals.append(
                spool.Arrival(
                    raw=message, source="inject", mail_from=sender, rcpt_tos=recipients
                )
            )
        if len(refused) >= CHUNK or size >= CHUNK_BYTES:
            break
    return arrivals, refused, None


def _report(
    runtime: Runtime, taken: list[int | Oversize], out: TextIO, limit: int
) -> None:
    """Process what was spooled and write one JSON line per message taken."""
    ids = [t for t in taken if isinstance(t, int)]
    outcomes = dict(zip(ids, runtime.pipeline.process_many(ids), strict=True))
    for item in taken:
        if isinstance(item, Oversize):
            out.write(_refuse(item, limit) + "\n")
            continue
        outcome = outcomes[item] or outcome_of(runtime.sql, item) or deferred()
        out.write(outcome.as_json() + "\n")
    out.flush()


def _refuse(message: Oversize, limit: int) -> str:
    """Say on stderr (which a bounce quotes) why a message is refused; returns its JSON line."""
    reason = (
        f"5.3.4 Message too big: {message.size} bytes, "
        f"the limit is {limit} bytes (smtp.max_message_size)"
    )
    print(f"tierdesk inject: {reason}; not accepted", file=sys.stderr)
    # not an OutcomeKind: nothing was spooled, so there is no spool outcome to record
    return json.dumps(
        {
            "message_id": message.message_id(),
            "outcome": "refused",
            "ticket": None,
            "reason": reason,
        },
        ensure_ascii=False,
    )
