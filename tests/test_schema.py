"""The schema: created on an empty database, checked on start, upgraded on request."""

from __future__ import annotations

import pytest
from peewee import SqliteDatabase
from tierdesk.storage.db import open_database
from tierdesk.storage.models import Contact, MetaEntry
from tierdesk.storage.schema import (
    SCHEMA_VERSION,
    SchemaError,
    current_version,
    ensure_schema,
    upgrade,
)

from tests.support.schema_history import back_to


def test_empty_database_is_initialised_on_first_start(db_url):
    db = open_database(db_url)

    ensure_schema(db)

    assert current_version(db) == SCHEMA_VERSION
    db.close()


def test_upgrade_twice_applies_nothing_the_second_time(db_url):
    db = open_database(db_url)

    assert upgrade(db) == [SCHEMA_VERSION]
    assert upgrade(db) == []
    db.close()


def test_daemon_refuses_an_older_schema_and_says_what_to_run(db_url):
    db = open_database(db_url)
    upgrade(db)
    MetaEntry.update(value="0").where(MetaEntry.key == "schema_version").execute()

    with pytest.raises(SchemaError, match="run `tierdesk db upgrade`"):
        ensure_schema(db)
    db.close()


def test_daemon_refuses_a_newer_schema_that_older_code_cannot_run_on(db_url):
    db = open_database(db_url)
    upgrade(db)
    for key in ("schema_version", "schema_compatible_with"):
        MetaEntry.update(value=str(SCHEMA_VERSION + 1)).where(
            MetaEntry.key == key
        ).execute()

    with pytest.raises(SchemaError, match="newer than this tierdesk"):
        ensure_schema(db)
    db.close()


def test_daemon_runs_on_a_newer_schema_whose_steps_were_additive(db_url):
    db = open_database(db_url)
    upgrade(db)
    MetaEntry.update(value=str(SCHEMA_VERSION + 1)).where(
        MetaEntry.key == "schema_version"
    ).execute()

    assert ensure_schema(db) == SCHEMA_VERSION + 1
    db.close()


def test_foreign_tables_without_our_schema_are_not_touched(db_url):
    db = open_database(db_url)
    db.execute_sql("CREATE TABLE someone_elses (x integer)")

    with pytest.raises(SchemaError, match="no tierdesk schema"):
        ensure_schema(db)
    db.close()


def test_insert_or_ignore_reports_duplicates_by_row_count(db_url):
    db = open_database(db_url)
    upgrade(db)

    first = (
        Contact.insert(email="a@example.org")
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    second = (
        Contact.insert(email="a@example.org")
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )

    assert (first, second) == (1, 0)
    db.close()


def test_sqlite_is_durable_wal_with_foreign_keys(sqlite_url):
    db = open_database(sqlite_url)
    upgrade(db)

    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000
    db.close()


def test_version_1_database_is_migrated_with_its_data(db_url):
    db = open_database(db_url)
    upgrade(db)
    Contact.insert(email="kept@example.org").execute()
    # make it look like a version 1 database: no IMAP checkpoint, no spool.mailbox
    _back_to_version_4(db)
    db.execute_sql("DROP TABLE imap_checkpoint")
    db.execute_sql("ALTER TABLE spool DROP COLUMN mailbox")
    for index in ("first_response_due_at", "resolution_due_at", "resolved_at"):
        db.execute_sql(f"DROP INDEX ticket_{index}")
    for column in (
        "tags",
        "sla",
        "first_response_due_at",
        "resolution_due_at",
        "first_response_at",
        "resolved_at",
        "sla_warn_at",
        "sla_warned_at",
        "sla_paused_at",
        "first_response_left",
        "resolution_left",
        "escalations",
        "merged_into",
    ):
        db.execute_sql(f"ALTER TABLE ticket DROP COLUMN {column}")
    MetaEntry.update(value="1").where(MetaEntry.key == "schema_version").execute()
    with pytest.raises(SchemaError, match="version 1"):
        ensure_schema(db)

    assert upgrade(db) == list(range(2, SCHEMA_VERSION + 1))

    ensure_schema(db)
    assert "mailbox" in [c.name for c in db.get_columns("spool")]
    assert Contact.get(Contact.email == "kept@example.org")
    db.close()


def _back_to_version_4(db) -> None:
    """A current database made to look like version 4."""
    back_to(db, 4)


def test_version_4_database_gets_keys_participants_and_counted_addresses(db_url):
    from tierdesk.storage.models import OutboxItem, Participant, SigningKeyRow, Ticket
    from tierdesk.storage.schema import reply_secret

    db = open_database(db_url)
    upgrade(db)
    secret = reply_secret(db)
    contact = Contact.create(email="alice+news@customer.example", name="Alice")
    ticket = Ticket.create(number=1, requester=contact)
    OutboxItem.create(
        ticket=ticket,
        kind="ack",
        mail_from="support@example.com",
        rcpt_tos="[]",
        rcpt_key="alice+news@customer.example",
        message_id="m1",
        raw=b"",
    )
    OutboxItem.create(
        kind="reply",
        automatic=False,
        mail_from="support@example.com",
        rcpt_tos="[]",
        rcpt_key="Alice@Customer.example",
        message_id="m2",
        raw=b"",
    )
    _back_to_version_4(db)

    assert upgrade(db) == list(range(5, SCHEMA_VERSION + 1))

    assert Contact.get().email_key == "alice@customer.example"
    assert [
        (o.rcpt_key, o.limit_class) for o in OutboxItem.select().order_by(OutboxItem.id)
    ] == [
        ("alice@customer.example", "automatic"),
        ("alice@customer.example", "relayed"),
    ]
    [participant] = Participant.select()
    assert (participant.ticket_id, participant.address, participant.role) == (
        ticket.id,
        "alice@customer.example",
        "requester",
    )
    [key] = SigningKeyRow.select()
    assert (key.id, bytes.fromhex(key.secret)) == ("00", secret)
    db.close()


def test_version_8_database_numbers_its_next_ticket_after_its_last(db_url):
    from tierdesk.storage.models import Counter
    from tierdesk.storage.sql import Sql
    from tierdesk.storage.tickets import next_ticket_number

    db = open_database(db_url)
    upgrade(db)
    back_to(db, 8)
    Counter.update(value=41).where(Counter.name == "ticket").execute()

    assert upgrade(db) == [9, 10, 11]

    assert next_ticket_number(Sql(db)) == 42
    assert current_version(db) == SCHEMA_VERSION
    db.close()


def _indexes(db) -> dict[str, list[tuple[str, tuple[str, ...], bool]]]:
    tables = (
        db.get_tables(schema=db.execute_sql("SELECT current_schema()").fetchone()[0])
        if not isinstance(db, SqliteDatabase)
        else db.get_tables()
    )
    return {
        table: sorted(
            (i.name, tuple(i.columns), i.unique) for i in db.get_indexes(table)
        )
        for table in tables
    }


def test_version_8_database_ends_with_the_indexes_of_a_new_one(db_url):
    db = open_database(db_url)
    upgrade(db)
    new = _indexes(db)
    back_to(db, 8)
    assert _indexes(db) != new

    upgrade(db)

    assert _indexes(db) == new
    assert (
        "ticket_requester_id_created_at",
        ("requester_id", "created_at"),
        False,
    ) in (new["ticket"])
    db.close()


def _pending_list_setting(db) -> list[str] | None:
    return db.execute_sql(
        "SELECT reloptions FROM pg_class WHERE relname = 'message_search_document'"
        " AND relnamespace = current_schema()::regnamespace"
    ).fetchone()[0]


def test_version_10_database_gets_the_short_pending_list_of_a_new_one(db_url):
    """Every look-up probes the GIN index once a word, and each probe reads the
    whole pending list: a new index and an upgraded one keep it at 64 kB."""
    db = open_database(db_url)
    upgrade(db)
    if isinstance(db, SqliteDatabase):
        pytest.skip("SQLite's FTS5 index has no pending list")
    assert _pending_list_setting(db) == ["gin_pending_list_limit=64"]
    back_to(db, 10)
    assert _pending_list_setting(db) is None

    assert upgrade(db) == [11]

    assert _pending_list_setting(db) == ["gin_pending_list_limit=64"]
    db.close()
