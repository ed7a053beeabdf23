"""Years of history for bench/history.py, written straight into a fresh tierdesk database.

Every ticket comes with what the pipeline would have left behind: its
requester (one contact per two tickets, plus twenty contacts who write
every day), the customer's request and our acknowledgement as messages, on
two tickets in three an agent's answer or the customer's reply, their spool
rows (purged), the outbox rows of our mails (sent), participants, events,
and a recent-text row and now and then a bounce score per contact.

Rows are made by bulk SQL from an integer series (PostgreSQL:
generate_series; SQLite: a recursive CTE) in one transaction, the tables'
indexes dropped meanwhile and built again afterwards. Every value follows
from the ticket's number, so `Shape` computes in Python what the SQL
wrote (Message-IDs, requesters, times), and the corpus can refer to it.

Times: the newest RECENT tickets are spread over the last week (new, open,
pending), the RECENT before them over the three weeks before (resolved),
and all the others over the three years before that (closed or resolved long
ago). The last month is the same at every size; only the old history grows.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tierdesk.storage.db import open_database
from tierdesk.storage.schema import upgrade

from bench.corpus import NAMES_EN, TOPICS_EN

HOUR = 3600
DAY = 86400
SPAN = 3 * 365 * DAY  # how far back the history goes
RECENT = 300  # tickets in each of the two recent windows, at every size
HEAVY = 20  # contacts who open a ticket every day (one ticket in HEAVY_EVERY is theirs)
HEAVY_EVERY = 50
MIX = (
    2654435761  # Knuth's multiplicative hash: random-looking ids, computed alike in SQL
)
SUPPORT = "support@example.com"
TAG = "ACME"
SIGNING_SECRET = hashlib.sha256(b"tierdesk history bench").hexdigest()
MIN_TICKETS = 2 * RECENT + 100


def hex8(value: int) -> str:
    """Eight hex digits that look random, from `value` (as the SQL's hex8 makes them)."""
    return f"{value * MIX % 2**32:08x}"


@dataclass(frozen=True)
class Shape:
    """What a generated history holds; every value computed from a ticket's number."""

    tickets: int
    now: int  # epoch seconds at generation: the recent windows end here
    stride: int  # spreads tickets over contacts (coprime with the contacts that are not HEAVY)

    @staticmethod
    def make(tickets: int, now: int) -> Shape:
        """The shape of a history of `tickets` tickets ending at `now`."""
        if tickets < MIN_TICKETS:
            raise ValueError(f"a history needs at least {MIN_TICKETS} tickets")
        stride = 48271
        while math.gcd(stride, contacts_for(tickets) - HEAVY) != 1:
            stride += 2
        return Shape(tickets, now, stride)

    @property
    def contacts(self) -> int:
        """How many contacts there are."""
        return contacts_for(self.tickets)

    @property
    def old(self) -> int:
        """Tickets 1..old were resolved or closed more than a month ago."""
        return self.tickets - 2 * RECENT

    def created(self, i: int) -> int:
        """When ticket `i` was opened (epoch seconds)."""
        if i <= self.old:
            return self.now - SPAN + (i - 1) * (SPAN - 30 * DAY) // self.old
        if i <= self.old + RECENT:
            return self.now - 30 * DAY + (i - self.old - 1) * (23 * DAY) // RECENT
        return (
            self.now
            - 7 * DAY
            + (i - self.old - RECENT - 1) * (7 * DAY - HOUR) // RECENT
        )

    def requester(self, i: int) -> int:
        """The contact (id) who opened ticket `i`."""
        if i % HEAVY_EVERY == 0:
            return 1 + (i // HEAVY_EVERY) % HEAVY
        return HEAVY + 1 + i * self.stride % (self.contacts - HEAVY)

    def subject(self, i: int) -> str:
        """Ticket `i`'s subject."""
        return f"{TOPICS_EN[i % len(TOPICS_EN)]} ({i})"

    def status(self, i: int) -> str:
        """Ticket `i`'s status."""
        if i > self.old + RECENT:
            return ("new", "open", "pending")[(self.tickets - i) % 3]
        return "resolved" if i > self.old or i % 5 == 0 else "closed"

    def message_ids(self, i: int) -> list[str]:
        """Ticket `i`'s stored Message-IDs, oldest first."""
        ids = [
            f"{hex8(4 * i + 1)}.{i}@mx{i % 97}.example.net",
            f"ack.{i}.{hex8(4 * i + 2)}{hex8(4 * i + 3)}@example.com",
        ]
        if i % 3 == 1:  # an agent answered
            ids.append(f"reply.{i}.{hex8(4 * i + 4)}@example.com")
        elif i % 3 == 2:  # the customer wrote again
            ids.append(f"{hex8(4 * i + 4)}.{i}.re@mx{i % 97}.example.net")
        return ids


def contacts_for(tickets: int) -> int:
    """One contact per two tickets."""
    return max(HEAVY + 1, (tickets + 1) // 2)


def email(j: int) -> str:
    """Contact `j`'s address (also its key: lower case, no +tag)."""
    return f"customer{j}@org{j % 4999}.example"


def name(j: int) -> str:
    """Contact `j`'s display name."""
    return NAMES_EN[j % len(NAMES_EN)]


# -- SQL ---------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """The few expressions the two databases spell differently."""

    postgres: bool

    def series(self, count: int, column: str = "i") -> tuple[str, str]:
        """A WITH clause (or '') and a FROM item yielding `column` = 1..count."""
        if self.postgres:
            return "", f"generate_series(1::bigint, {count}) AS n({column})"
        recursive = (
            f"WITH RECURSIVE n({column}) AS (SELECT 1 UNION ALL SELECT {column} + 1"
            f" FROM n WHERE {column} < {count})"
        )
        return recursive, "n"

    def ts(self, epoch: str) -> str:
        """A naive UTC timestamp, as the daemon stores it, from epoch seconds."""
        if self.postgres:
            return f"(to_timestamp({epoch}) AT TIME ZONE 'UTC')"
        return f"datetime({epoch}, 'unixepoch')"

    def day(self, epoch: str) -> str:
        """A date column's value from epoch seconds."""
        if self.postgres:
            return f"(to_timestamp({epoch}) AT TIME ZONE 'UTC')::date"
        return f"date({epoch}, 'unixepoch')"

    def hex8(self, value: str) -> str:
        """SQL for `hex8`."""
        mixed = f"(({value}) * {MIX} % 4294967296)"
        if self.postgres:
            return f"lpad(to_hex({mixed}), 8, '0')"
        return f"printf('%08x', {mixed})"

    def blob(self, text: str) -> str:
        """A blob of the text's bytes."""
        return (
            f"convert_to({text}, 'UTF8')" if self.postgres else f"CAST({text} AS BLOB)"
        )


def _txt(expr: str) -> str:
    return f"CAST({expr} AS TEXT)"


def _choice(key: str, values: list[str]) -> str:
    whens = " ".join(
        f"WHEN {n} THEN '{v.replace(chr(39), chr(39) * 2)}'"
        for n, v in enumerate(values)
    )
    return f"CASE {key} % {len(values)} {whens} END"


def _ks(count: int) -> str:
    """A derived table k = 1..count, to make several rows of one ticket."""
    return (
        "("
        + " UNION ALL ".join(f"SELECT {k} AS k" for k in range(1, count + 1))
        + ") AS m"
    )


class HistorySql:
    """The statements that write a Shape's rows, in one dialect."""

    def __init__(self, shape: Shape, dialect: Dialect) -> None:
        self.s = shape
        self.d = dialect

    # expressions over i (ticket), j (its requester) and c (its creation, epoch seconds)

    def email(self, j: str = "j") -> str:
        return (
            f"'customer' || {_txt(j)} || '@org' || {_txt(f'{j} % 4999')} || '.example'"
        )

    def name(self, j: str = "j") -> str:
        return _choice(j, NAMES_EN)

    def subject(self) -> str:
        return f"{_choice('i', TOPICS_EN)} || ' (' || {_txt('i')} || ')'"

    def message_id(self, which: int) -> str:
        i, h = _txt("i"), self.d.hex8
        if which == 1:
            return f"{h('4 * i + 1')} || '.' || {i} || '@mx' || {_txt('i % 97')} || '.example.net'"
        if which == 2:
            return f"'ack.' || {i} || '.' || {h('4 * i + 2')} || {h('4 * i + 3')} || '@example.com'"
        return (
            f"CASE WHEN i % 3 = 1 THEN 'reply.' || {i} || '.' || {h('4 * i + 4')} || '@example.com'"
            f" ELSE {h('4 * i + 4')} || '.' || {i} || '.re@mx' || {_txt('i % 97')}"
            " || '.example.net' END"
        )

    def tickets_from(self) -> tuple[str, str]:
        """WITH clause and FROM item: one row per ticket with i, j (requester) and c (created)."""
        s = self.s
        created = (
            f"CASE WHEN i <= {s.old} THEN {s.now - SPAN} + (i - 1) * {SPAN - 30 * DAY} / {s.old}"
            f" WHEN i <= {s.old + RECENT} THEN {s.now - 30 * DAY}"
            f" + (i - {s.old + 1}) * {23 * DAY} / {RECENT}"
            f" ELSE {s.now - 7 * DAY} + (i - {s.old + RECENT + 1}) * {7 * DAY - HOUR} / {RECENT} END"
        )
        requester = (
            f"CASE WHEN i % {HEAVY_EVERY} = 0 THEN 1 + (i / {HEAVY_EVERY}) % {HEAVY}"
            f" ELSE {HEAVY + 1} + i * {s.stride} % {s.contacts - HEAVY} END"
        )
        with_, series = self.d.series(s.tickets)
        return with_, f"(SELECT i, {requester} AS j, {created} AS c FROM {series}) AS s"

    def statements(self) -> Iterator[tuple[str, list[str], str]]:
        """(table, columns, statement) for every table, in the order they are written."""
        d, s = self.d, self.s
        with_, tickets = self.tickets_from()
        ts = d.ts
        yield self._contacts()
        status = (
            f"CASE WHEN i > {s.old + RECENT} THEN CASE ({s.tickets} - i) % 3"
            " WHEN 0 THEN 'new' WHEN 1 THEN 'open' ELSE 'pending' END"
            f" WHEN i > {s.old} OR i % 5 = 0 THEN 'resolved' ELSE 'closed' END"
        )
        resolved = f"CASE WHEN i <= {s.old + RECENT} THEN {ts(f'c + {2 * DAY}')} END"
        yield self._insert(
            with_,
            tickets,
            "ticket",
            {
                "id": "i",
                "number": "i",
                "subject": self.subject(),
                "status": status,
                "tier": "CASE WHEN i % 7 = 0 THEN 2 ELSE 1 END",
                "queue": "'default'",
                "priority": "CASE WHEN i % 11 = 0 THEN 'high' ELSE 'normal' END",
                "language": "'en'",
                "requester_id": "j",
                "created_at": ts("c"),
                "updated_at": f"COALESCE({resolved}, {ts(f'c + {HOUR}')})",
                "tags": "''",
                "first_response_at": f"CASE WHEN i % 3 = 1 THEN {ts(f'c + {3 * HOUR}')} END",
                "resolved_at": resolved,
                "escalations": "0",
            },
        )
        m1, m2, m3 = (self.message_id(n) for n in (1, 2, 3))
        incoming = "(k = 1 OR (k = 3 AND i % 3 = 2))"
        sha = " || ".join(d.hex8(f"16 * i + 8 * k + {n}") for n in range(8))
        yield self._insert(
            with_,
            f"{tickets} CROSS JOIN {_ks(2)}",
            "spool",
            {
                "id": "2 * (i - 1) + k",
                "received_at": ts(f"c + (k - 1) * {3 * HOUR}"),
                "source": "'smtp'",
                "mail_from": self.email(),
                "rcpt_tos": f"'[\"{SUPPORT}\"]'",
                "peer": "''",
                "mailbox": "''",
                "raw": d.blob("''"),  # purged: `tierdesk purge` empties old raw mail
                "sha256": sha,
                "size": "2000 + i % 3000",
                "state": "'done'",
                "attempts": "1",
                "error": "CASE k WHEN 1 THEN '' ELSE 'threaded by In-Reply-To' END",
                "outcome": "CASE k WHEN 1 THEN 'new_ticket' ELSE 'appended' END",
                "message_id": f"CASE k WHEN 1 THEN {m1} ELSE {m3} END",
                "ticket_id": "i",
                "processed_at": ts(f"c + (k - 1) * {3 * HOUR} + 1"),
                "purged_at": f"CASE WHEN i <= {s.old} THEN {ts(f'c + {31 * DAY}')} END",
            },
            "k = 1 OR i % 3 = 2",
        )
        body = (
            "'Hello,' || char(10) || char(10) || 'since this morning nothing works for ticket '"
            f" || {_txt('i')} || '. We tried restarting everything twice and cleared the"
            " cache as your documentation says, but it keeps failing with the same error."
            " Could you please have a look? It blocks our whole team.' || char(10) || 'Best"
            f" regards,' || char(10) || {self.name()}"
        ).replace("char(10)", "chr(10)" if d.postgres else "char(10)")
        yield self._insert(
            with_,
            f"{tickets} CROSS JOIN {_ks(3)}",
            "message",
            {
                "id": "3 * (i - 1) + k",
                "ticket_id": "i",
                "message_id": f"CASE k WHEN 1 THEN {m1} WHEN 2 THEN {m2} ELSE {m3} END",
                "in_reply_to": f"CASE k WHEN 1 THEN '' WHEN 2 THEN {m1} ELSE {m2} END",
                '"references"': f"CASE k WHEN 1 THEN '' WHEN 2 THEN {m1} ELSE {m1} || ' ' || {m2} END",
                "direction": f"CASE WHEN {incoming} THEN 'in' ELSE 'out' END",
                "kind": "CASE WHEN k = 2 THEN 'ack' WHEN k = 3 AND i % 3 = 1 THEN 'reply'"
                " ELSE 'customer' END",
                "sender": f"CASE WHEN {incoming} THEN {self.email()} ELSE '{SUPPORT}' END",
                "sender_name": f"CASE WHEN {incoming} THEN {self.name()} ELSE '' END",
                "recipients": f"CASE WHEN {incoming} THEN '[]' ELSE '[\"' || {self.email()} || '\"]' END",
                "subject": f"CASE k WHEN 1 THEN '' WHEN 2 THEN '[{TAG} #' ELSE 'Re: [{TAG} #' END"
                f" || CASE k WHEN 1 THEN '' ELSE {_txt('i')} || '] ' END || {self.subject()}",
                "text": body,
                "sent_date": ts(
                    f"c + CASE k WHEN 1 THEN 0 WHEN 2 THEN 1 ELSE {3 * HOUR} END"
                ),
                "created_at": ts(
                    f"c + CASE k WHEN 1 THEN 0 WHEN 2 THEN 1 ELSE {3 * HOUR} END"
                ),
                "spool_id": f"CASE WHEN {incoming} THEN 2 * (i - 1) + (k + 1) / 2 END",
                "defects": "''",
            },
            "k < 3 OR i % 3 <> 0",
        )
        created = f"c + CASE k WHEN 1 THEN 1 ELSE {3 * HOUR} END"
        headers = (
            f"'From: ACME Support <{SUPPORT}>' || char(10) || 'To: ' || {self.email()}"
            f" || char(10) || 'Subject: [{TAG} #' || {_txt('i')} || '] ' || {self.subject()}"
            " || char(10) || 'Auto-Submitted: auto-replied' || char(10) || char(10)"
            " || 'We have received your request and will answer it soon.'"
        ).replace("char(10)", "chr(10)" if d.postgres else "char(10)")
        yield self._insert(
            with_,
            f"{tickets} CROSS JOIN {_ks(2)}",
            "outbox",
            {
                "id": "2 * (i - 1) + k",
                "created_at": ts(created),
                "ticket_id": "i",
                "message_ref": "3 * (i - 1) + 1 + k",
                "kind": "CASE k WHEN 1 THEN 'ack' ELSE 'reply' END",
                "automatic": "k = 1",
                "limit_class": "CASE k WHEN 1 THEN 'automatic' ELSE 'relayed' END",
                "author": f"CASE k WHEN 1 THEN '' ELSE 'agent' || {_txt('i % 7')} END",
                "mail_from": f"'support+bounce-' || {_txt('2 * (i - 1) + k')} || '-00'"
                f" || {d.hex8('8 * i + k')} || '@example.com'",
                "rcpt_tos": f"'[\"' || {self.email()} || '\"]'",
                "rcpt_key": self.email(),
                "message_id": f"CASE k WHEN 1 THEN {m2} ELSE {m3} END",
                "raw": d.blob(headers),
                "state": "'sent'",
                "attempts": "1",
                "next_attempt_at": ts(created),
                "last_error": "''",
                "sent_at": ts(f"{created} + 2"),
            },
            "k = 1 OR i % 3 = 1",
        )
        customer = f"'customer:' || {self.email()}"
        yield self._insert(
            with_,
            f"{tickets} CROSS JOIN {_ks(5)}",
            "event",
            {
                "ticket_id": "i",
                "created_at": ts(
                    f"c + CASE WHEN k <= 2 THEN 0 WHEN k = 3 THEN {3 * HOUR} ELSE {2 * DAY} END"
                ),
                "actor": f"CASE WHEN k = 1 OR (k = 3 AND i % 3 = 2) THEN {customer}"
                f" WHEN k = 3 THEN 'agent:agent' || {_txt('i % 7')} ELSE 'system' END",
                "kind": "CASE k WHEN 1 THEN 'created' WHEN 2 THEN 'ack_queued'"
                " WHEN 3 THEN CASE WHEN i % 3 = 1 THEN 'reply_queued' ELSE 'message' END"
                " ELSE 'status' END",
                "field_name": "CASE WHEN k >= 4 THEN 'status' ELSE '' END",
                "old_value": "CASE k WHEN 4 THEN 'open' WHEN 5 THEN 'resolved' ELSE '' END",
                "new_value": "CASE k WHEN 4 THEN 'resolved' WHEN 5 THEN 'closed' ELSE '' END",
                "detail": f"CASE k WHEN 1 THEN 'from ' || {self.email()} || ', tier 1, queue"
                " default, priority normal; rules: none matched, the default applies'"
                f" WHEN 2 THEN 'to ' || {self.email()} || ': acknowledge the new ticket'"
                " WHEN 3 THEN 'customer via In-Reply-To' ELSE '' END",
            },
            f"k <= 2 OR (k = 3 AND i % 3 <> 0) OR (k = 4 AND i <= {s.old + RECENT})"
            f" OR (k = 5 AND i <= {s.old} AND i % 5 <> 0)",
        )
        yield self._insert(
            with_,
            f"{tickets} CROSS JOIN {_ks(3)}",
            "participant",
            {
                "ticket_id": "i",
                "address": f"CASE k WHEN 1 THEN {self.email()} WHEN 2 THEN 'colleague'"
                f" || {_txt('i')} || '@org' || {_txt('j % 4999')} || '.example'"
                f" ELSE 'agent' || {_txt('i % 7')} || '@example.com' END",
                "role": "CASE k WHEN 1 THEN 'requester' WHEN 2 THEN 'cc' ELSE 'agent' END",
                "created_at": ts("c"),
            },
            "k = 1 OR (k = 2 AND i % 5 = 0) OR (k = 3 AND i % 3 = 1)",
        )
        yield from self._per_contact()

    def _contacts(self) -> tuple[str, list[str], str]:
        s = self.s
        with_, series = self.d.series(s.contacts, "j")
        return self._insert(
            with_,
            series,
            "contact",
            {
                "id": "j",
                "email": self.email(),
                "name": self.name(),
                "created_at": self.d.ts(
                    f"{s.now - SPAN} + (j - 1) * {SPAN - 30 * DAY} / {s.contacts}"
                ),
                "email_key": self.email(),
            },
        )

    def _per_contact(self) -> Iterator[tuple[str, list[str], str]]:
        s, d = self.s, self.d
        with_, series = d.series(s.contacts, "j")
        yield self._insert(
            with_,
            series,
            "recent_text",
            {
                "address": self.email(),
                "fingerprint": " || ".join(d.hex8(f"8 * j + {n}") for n in range(5)),
                "seen_at": d.ts(f"{s.now - 30 * DAY} - (j % 1000) * {HOUR}"),
            },
        )
        yield self._insert(
            with_,
            series,
            "bounce_state",
            {
                "address": self.email(),
                "score": "1.0",
                "last_bounce_on": d.day(f"{s.now - 60 * DAY}"),
                "diagnostic": "'552 5.2.2 mailbox full'",
                "updated_at": d.ts(f"{s.now - 60 * DAY}"),
            },
            "j % 100 = 7",
        )

    def _insert(
        self,
        with_: str,
        source: str,
        table: str,
        values: dict[str, str],
        where: str = "",
    ) -> tuple[str, list[str], str]:
        columns = list(values)
        statement = (
            f"{with_} INSERT INTO {table} ({', '.join(columns)})"
            f" SELECT {', '.join(values.values())} FROM {source}"
            + (f" WHERE {where}" if where else "")
        )
        return table, [c.strip('"') for c in columns], statement


# -- running it --------------------------------------------------------------


def generate(url: str, shape: Shape, analyze: bool = True) -> dict[str, Any]:
    """Create the schema at `url`, write the history, analyze; returns timings and sizes."""
    db = open_database(url)
    upgrade(db)
    db.close()
    postgres = not url.startswith("sqlite:///")
    with _connect(url) as conn:
        run = _runner(conn, postgres)
        return _write(conn, run, shape, Dialect(postgres), analyze)


def _write(
    conn: Any, run: Callable[..., Any], shape: Shape, dialect: Dialect, analyze: bool
) -> dict[str, Any]:
    postgres = dialect.postgres
    steps: dict[str, float] = {}
    start = time.perf_counter()
    statements = list(HistorySql(shape, dialect).statements())
    tables = list(dict.fromkeys(table for table, _, _ in statements))
    for table, columns, _ in statements:
        _check_columns(run, postgres, table, columns)
    indexes = [index for table in tables for index in _indexes(run, postgres, table)]
    if postgres:
        for setting in (
            "synchronous_commit = off",
            "maintenance_work_mem = '1GB'",
            "session_replication_role = replica",  # no foreign key triggers: rows are consistent
        ):
            run(f"SET {setting}")
    else:
        run("BEGIN")
    for index_name, _ in indexes:
        run(f"DROP INDEX {index_name}")
    for table, _, statement in statements:
        began = time.perf_counter()
        run(statement)
        steps[table] = steps.get(table, 0.0) + time.perf_counter() - began
    began = time.perf_counter()
    for _, definition in indexes:
        run(definition)
    steps["indexes"] = time.perf_counter() - began
    run("UPDATE counter SET value = ? WHERE name = 'ticket'", shape.tickets)
    now = datetime.fromtimestamp(shape.now - SPAN, UTC).replace(tzinfo=None)
    run(
        "INSERT INTO signing_key (id, secret, created_at) VALUES ('00', ?, ?)",
        SIGNING_SECRET,
        now if postgres else str(now),
    )
    if postgres:
        _advance_sequences(run, shape.tickets)
    conn.commit()
    generated = time.perf_counter() - start
    began = time.perf_counter()
    if analyze:
        _analyze(conn, run, postgres)
    return {
        "generate_s": generated,
        "analyze_s": time.perf_counter() - began,
        "steps": steps,
        "rows": {
            table: run(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in tables
        },
        "db_mb": _size_mb(run, postgres),
    }


@contextmanager
def _connect(url: str) -> Iterator[Any]:
    """A plain driver connection for bulk writing (no peewee, no per-statement conversion)."""
    if url.startswith("sqlite:///"):
        with closing(
            sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
        ) as conn:
            conn.execute("PRAGMA journal_mode = delete")
            conn.execute(
                "PRAGMA journal_mode = off"
            )  # a throwaway database, written once
            conn.execute("PRAGMA synchronous = off")
            conn.execute("PRAGMA cache_size = -512000")
            conn.execute("PRAGMA temp_store = memory")
            yield conn
            conn.execute("PRAGMA journal_mode = wal")  # as the daemon runs it
        return
    import psycopg

    parts = urlsplit(url)
    schema = dict(parse_qsl(parts.query)).get("schema")
    conninfo = url.split("?", 1)[0]
    options = f"-c search_path={schema}" if schema else ""
    with psycopg.connect(conninfo, options=options) as conn:
        yield conn


def _runner(conn: Any, postgres: bool) -> Callable[..., Any]:
    def run(statement: str, *params: Any) -> Any:
        if postgres:
            statement = statement.replace("?", "%s")
        return conn.execute(statement, params)

    return run


def _check_columns(
    run: Callable[..., Any], postgres: bool, table: str, given: list[str]
) -> None:
    """Fail clearly when the schema gained a required column this generator does not fill."""
    if postgres:
        rows = run(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = ? AND is_nullable = 'NO'"
            " AND column_default IS NULL AND is_identity = 'NO'",
            table,
        ).fetchall()
    else:
        rows = [
            (r[1],)
            for r in run(f"PRAGMA table_info({table})").fetchall()
            if r[3] and r[4] is None and not r[5]
        ]
    missing = sorted({r[0] for r in rows} - set(given) - {"id"})
    if missing:
        raise SystemExit(
            f"bench/history_data.py does not fill {table}.{', '.join(missing)}"
            " (NOT NULL without a default): add them to HistorySql"
        )


def _indexes(
    run: Callable[..., Any], postgres: bool, table: str
) -> list[tuple[str, str]]:
    """(name, CREATE statement) of a table's indexes, primary keys aside."""
    if not postgres:
        return run(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND sql IS NOT NULL",
            table,
        ).fetchall()
    return run(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ?"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
        table,
    ).fetchall()


def _advance_sequences(run: Callable[..., Any], tickets: int) -> None:
    """Serial columns past the ids written; a sequence of ticket numbers past the numbers."""
    owned = run(
        "SELECT s.relname, t.relname, a.attname FROM pg_class s"
        " JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')"
        " JOIN pg_class t ON t.oid = d.refobjid"
        " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
        " WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace"
    ).fetchall()
    for sequence, table, column in owned:
        run(
            f"SELECT setval('{sequence}', GREATEST(1, (SELECT MAX({column}) FROM {table})))"
        )
    # schema 9 numbers tickets from a sequence of their own on PostgreSQL
    for (sequence,) in run(
        "SELECT relname FROM pg_class WHERE relkind = 'S' AND relname LIKE '%ticket%'"
        " AND relnamespace = current_schema()::regnamespace"
    ).fetchall():
        if sequence not in {row[0] for row in owned}:
            run(f"SELECT setval('{sequence}', {tickets})")


def _analyze(conn: Any, run: Callable[..., Any], postgres: bool) -> None:
    if postgres:
        conn.autocommit = True
        run(
            "VACUUM (ANALYZE)"
        )  # as autovacuum leaves a database: statistics, visibility map
    else:
        run("ANALYZE")


def _size_mb(run: Callable[..., Any], postgres: bool) -> float:
    if postgres:
        query = (
            "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relkind = 'r'"
            " AND c.relnamespace = current_schema()::regnamespace"
        )
        return float(run(query).fetchone()[0] or 0) / 2**20
    pages = run("PRAGMA page_count").fetchone()[0]
    return pages * run("PRAGMA page_size").fetchone()[0] / 2**20


def sqlite_url(directory: Path) -> str:
    """The storage URL of the history database in `directory`."""
    return f"sqlite:///{directory / 'history.db'}"


def ticket_day(shape: Shape, i: int) -> date:
    """The day ticket `i` was opened (its acknowledgement's reply address is of that day)."""
    return datetime.fromtimestamp(shape.created(i), UTC).date()
