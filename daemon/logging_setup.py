"""Log lines as text (as always) or as one JSON object each (`log_format: json`).

Lines about a message carry its `spool_id`, `ticket` and `message_id`: the
pipeline names the message it is working on with `about_message`, and a
filter on the handler copies that onto every record logged meanwhile, from
whichever module (a template warning deep in the outbox code included).
A record can also name them itself with `extra=message_fields(...)`. The
text format shows none of this: its lines stay as they were.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import TextIO

FIELDS = ("spool_id", "ticket", "message_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# the message the current thread works on; each thread has its own value
_current: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar(
    "tierdesk_message", default=None
)


def message_fields(
    spool_id: int | None, message_id: str = "", ticket: int | None = None
) -> dict[str, object]:
    """The fields that say which message a log line is about (for `extra=`)."""
    return {"spool_id": spool_id, "ticket": ticket, "message_id": message_id or None}


@contextmanager
def about_message(
    spool_id: int | None, message_id: str = "", ticket: int | None = None
) -> Iterator[None]:
    """Within this block every log line of this thread is about that message."""
    token = _current.set(message_fields(spool_id, message_id, ticket))
    try:
        yield
    finally:
        _current.reset(token)


class MessageFields(logging.Filter):
    """Puts the current message's fields on a record that does not name them itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add spool_id, ticket and message_id (None when the line is about no message)."""
        current = _current.get() or {}
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, current.get(name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the message fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (a traceback goes in `exception`)."""
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def make_handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing to `stream` (stderr) in `log_format`, "text" or "json"."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(MessageFields())
    json_lines = log_format == "json"
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT)
    )
    return handler


def install_handler(level: str, log_format: str) -> None:
    """The root logger writes to stderr in `log_format` ("text" or "json")."""
    if log_format == "json":
        # what would otherwise reach stderr as bare text goes through logging,
        # so every line stays one JSON object
        logging.captureWarnings(True)
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_thread_uncaught
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        handlers=[make_handler(log_format)],
    )


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    logging.getLogger("tierdesk").critical(
        "uncaught exception", exc_info=(kind, value, tb)
    )


def _log_thread_uncaught(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread else "?"
    logging.getLogger("tierdesk").error(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
