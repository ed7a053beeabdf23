"""How fuzz cases ended on one database, and what was stored of them, so that
two databases can be compared value for value."""

from __future__ import annotations

import email
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from tierdesk.storage.sql import Sql

TICKET_OUTCOMES = frozenset({"new_ticket", "appended"})
OTHER_OUTCOMES = frozenset({"duplicate", "ignored", "answered"})
HANG_REASON = "parsing took longer than"
CRASH_REASON = "fuzz harness: exception escaped the pipeline:"
# an exception the pipeline caught and quarantined the message for: a bug all the same
PIPELINE_ERROR = "pipeline error:"
_BOUNDARY = re.compile(rb"=_tierdesk_[0-9a-f]+")
_ENCODING = "content-transfer-encoding"
# a notice's similar solved tickets (templates/*/notify_new.txt): its heading and indented rows
_SIMILAR_BLOCK = re.compile(
    r"\r?\n(?:Similar solved tickets|Похожие решённые заявки):\r?\n(?: {2}[^\n]*\n)*"
)


@dataclass(frozen=True)
class Ending:
    """How one case ended on one database, and what was stored of it."""

    name: str
    state: str
    outcome: str
    reason: str
    ticket: int | None
    stored: tuple[str, ...] = ()  # digests of the stored message, ticket, contact


@dataclass(frozen=True)
class Crash:
    """An exception that escaped the pipeline, and the case that raised it."""

    case: str
    error: str  # the exception's type
    traceback: str

    @property
    def kind(self) -> str:
        """What was raised and where: the exception's type and the innermost frame."""
        lines = self.traceback.strip().splitlines()
        frames = [line.strip() for line in lines if line.strip().startswith("File ")]
        return f"{self.error} at {frames[-1] if frames else '?'}"


@dataclass
class FuzzRun:
    """One database's run: every case's ending, and what went wrong on the way."""

    database: str
    endings: list[Ending] = field(default_factory=list)
    # exceptions that escaped the pipeline
    crashes: list[Crash] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def hangs(self) -> list[Ending]:
        """Cases the daemon gave up parsing at its time limit."""
        return [e for e in self.endings if e.reason.startswith(HANG_REASON)]

    @property
    def pipeline_errors(self) -> list[Ending]:
        """Cases quarantined for an exception the pipeline caught (a bug, not a verdict)."""
        return [e for e in self.endings if e.reason.startswith(PIPELINE_ERROR)]

    def problems(self) -> list[str]:
        """Every case that did not end as a ticket, a known outcome or a quarantine with a reason."""
        found = []
        for ending in self.endings:
            where = f"{ending.name}: {ending.state}/{ending.outcome}"
            if ending.reason.startswith(CRASH_REASON):
                continue  # counted as its crash
            if ending.state == "quarantined" and not ending.reason.strip():
                found.append(f"{where} without a reason")
            elif ending.state == "done" and ending.outcome in TICKET_OUTCOMES:
                if ending.ticket is None:
                    found.append(f"{where} names no ticket")
            elif ending.state == "done" and ending.outcome in OTHER_OUTCOMES:
                continue
            elif ending.state != "quarantined":
                found.append(f"{where} ({ending.reason[:200]})")
        return found

    def counts(self) -> Counter[str]:
        """Endings by kind: ticket, each other outcome, quarantined."""
        return Counter(
            "ticket" if e.outcome in TICKET_OUTCOMES else e.outcome or e.state
            for e in self.endings
        )

    def reasons(self, state: str = "quarantined") -> Counter[str]:
        """Reasons of the endings in `state` (or of that outcome), alike ones counted together."""
        return Counter(
            reason_kind(e.reason) for e in self.endings if state in (e.state, e.outcome)
        )


def reason_kind(reason: str) -> str:
    """A quarantine reason without its particulars (numbers, long tails)."""
    return re.sub(r"\d+", "N", reason.splitlines()[0] if reason else "")[:90]


# --- running them ----------------------------------------------------------------


def ending_of(sql: Sql, spool_id: int, name: str, instance: str) -> Ending:
    """How a spooled case ended, with digests of everything stored of it."""
    state, outcome, reason, ticket, ticket_id = sql.one(
        "SELECT s.state, s.outcome, s.error, t.number, t.id FROM spool s"
        " LEFT JOIN ticket t ON t.id = s.ticket_id WHERE s.id = ?",
        spool_id,
    ) or ("missing", "", "", None, None)
    kept = stored(sql, spool_id) + history(sql, ticket_id, instance)
    return Ending(name, state, outcome or "", reason or "", ticket, kept)


def history(sql: Sql, ticket_id: int | None, instance: str) -> tuple[str, ...]:
    """Digests of a ticket's row, its events and its outbox, as they are now.

    Each database is an instance of its own: its id (in the loop header, and
    the MIME boundaries made from it) is left out of the mails compared.
    """
    if ticket_id is None:
        return ()
    ticket = sql.all(
        "SELECT number, subject, status, tier, queue, priority, language, assignee,"
        " tags, sla, merged_into FROM ticket WHERE id = ?",
        ticket_id,
    )
    events = sql.all(
        "SELECT actor, kind, field_name, old_value, new_value, detail FROM event"
        " WHERE ticket_id = ? ORDER BY id",
        ticket_id,
    )
    outbox = sql.all(
        "SELECT kind, rcpt_key, limit_class, author, mail_from, rcpt_tos, message_id, raw"
        " FROM outbox WHERE ticket_id = ? ORDER BY id",
        ticket_id,
    )
    mails = [(*row[:-1], _without_instance(bytes(row[-1]), instance)) for row in outbox]
    return (_digest(ticket), _digest(events), _digest(mails))


def _without_instance(raw: bytes, instance: str) -> str:
    """A digest of a rendered mail with this database's instance id taken out."""
    raw = _BOUNDARY.sub(b"=_tierdesk_", raw.replace(instance.encode(), b"INSTANCE"))
    return hashlib.sha256(_without_similar_tickets(raw)).hexdigest()


def _without_similar_tickets(raw: bytes) -> bytes:
    """A mail's headers and decoded parts, a notice's similar solved tickets taken out.

    Each database ranks with its own engine and tokeniser (PostgreSQL reads
    "text/plain" as one word, SQLite as two), so which earlier tickets are
    alike may differ, and with them a part's transfer encoding; nothing else may.
    """
    parts = []
    for part in email.message_from_bytes(raw).walk():
        head = [(k, v) for k, v in part.items() if k.lower() != _ENCODING]
        payload = part.get_payload(decode=True)
        if payload is not None and part.get_content_type() == "text/plain":
            text = payload.decode(part.get_content_charset() or "utf-8", "replace")
            payload = _SIMILAR_BLOCK.sub("", text).encode("utf-8", "surrogatepass")
        parts.append((head, payload))
    return repr(parts).encode("utf-8", "surrogatepass")


def stored(sql: Sql, spool_id: int) -> tuple[str, ...]:
    """Digests of the message stored from a spool item, its attachments, ticket and requester."""
    rows = sql.all(
        'SELECT m.id, m.message_id, m.in_reply_to, m."references", m.kind, m.sender,'
        " m.sender_name, m.recipients, m.subject, m.text, m.html, m.defects,"
        " t.number, t.subject, c.email, c.name, c.email_key"
        " FROM message m JOIN ticket t ON t.id = m.ticket_id"
        " JOIN contact c ON c.id = t.requester_id WHERE m.spool_id = ? ORDER BY m.id",
        spool_id,
    )
    out = []
    for row in rows:
        files = sql.all(
            "SELECT filename, content_type, size, sha256, content_id, inline"
            " FROM attachment WHERE message_id = ? ORDER BY id",
            row[0],
        )
        parties = sql.all(
            "SELECT p.address, p.role FROM participant p JOIN message m"
            " ON m.ticket_id = p.ticket_id WHERE m.id = ? ORDER BY p.address",
            row[0],
        )
        out.append(_digest((row[1:], files, parties)))
    return tuple(out)


def _digest(value: object) -> str:
    return hashlib.sha256(
        repr(_plain(value)).encode("utf-8", "surrogatepass")
    ).hexdigest()[:16]


def _plain(value: object) -> object:
    """A value read back as both databases can give it (SQLite has no booleans)."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, bool):
        return int(value)
    return value


# --- both databases ----------------------------------------------------------------


def divergences(first: FuzzRun, second: FuzzRun) -> list[str]:
    """Cases that ended differently, or were stored differently, on the two databases."""
    found = []
    for a, b in zip(first.endings, second.endings, strict=True):
        if (a.state, a.outcome, a.ticket, a.reason) != (
            b.state,
            b.outcome,
            b.ticket,
            b.reason,
        ):
            found.append(
                f"{a.name}: {first.database} {a.state}/{a.outcome} #{a.ticket} "
                f"{a.reason[:120]!r} vs {second.database} {b.state}/{b.outcome} "
                f"#{b.ticket} {b.reason[:120]!r}"
            )
        elif a.stored != b.stored:
            found.append(f"{a.name}: stored values differ")
    return found
