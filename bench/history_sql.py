"""The bulk SQL that writes a history (bench/history_shape.py) into a fresh tierdesk database.

One INSERT ... SELECT per table over an integer series (PostgreSQL:
generate_series; SQLite: a recursive CTE), several rows of one ticket made
by a cross join with k = 1..n. Every column is named, so the statements do
not depend on column order, and columns the schema adds later (nullable)
are left to their defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bench.corpus import NAMES_EN, TOPICS_EN
from bench.history_shape import (
    DAY,
    DETAIL_WORDS,
    DETAILS,
    HEAVY,
    HEAVY_EVERY,
    HOUR,
    MIX,
    RECENT,
    SPAN,
    SUPPORT,
    SYLLABLES,
    TAG,
    Shape,
)


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
        """SQL for `history_shape.email` of contact `j`."""
        return (
            f"'customer' || {_txt(j)} || '@org' || {_txt(f'{j} % 4999')} || '.example'"
        )

    def name(self, j: str = "j") -> str:
        """SQL for `history_shape.name` of contact `j`."""
        return _choice(j, NAMES_EN)

    def subject(self) -> str:
        """SQL for `Shape.subject` of ticket i."""
        return f"{_choice('i', TOPICS_EN)} || ' (' || {_txt('i')} || ')'"

    def details(self) -> str:
        """SQL for ticket i's made-up rare words (`history_shape.detail_word`), spaced."""
        n = len(SYLLABLES)
        words = []
        for k in range(DETAILS):
            w = f"(({DETAILS} * i + {k}) * {MIX} % 4294967296 / {DETAIL_WORDS} % {DETAIL_WORDS})"
            syllables = [_choice(f"{w} / {n**p}", list(SYLLABLES)) for p in range(3)]
            words.append("(" + " || ".join(syllables) + ")")
        return " || ' ' || ".join(words)

    def message_id(self, which: int) -> str:
        """SQL for the `which`-th (1, 2, 3) of `Shape.message_ids` of ticket i."""
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
            " Could you please have a look? It blocks our whole team. Error details: '"
            f" || {self.details()} || '.' || char(10) || 'Best"
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
