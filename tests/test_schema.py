"""The schema: created on an empty database, checked on start, upgraded on request."""

from __future__ import annotations

import pytest
from tierdesk.storage.db import open_database
from tierdesk.storage.models import Contact, MetaEntry
from tierdesk.storage.schema import (
    SCHEMA_VERSION,
    SchemaError,
    current_version,
    ensure_schema,
    upgrade,
)


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


def test_daemon_refuses_a_newer_schema(db_url):
    db = open_database(db_url)
    upgrade(db)
    MetaEntry.update(value=str(SCHEMA_VERSION + 1)).where(
        MetaEntry.key == "schema_version"
    ).execute()

    with pytest.raises(SchemaError, match="newer than this tierdesk"):
        ensure_schema(db)
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


def _undo_version_7(db) -> None:
    """Undo migration 7 (missing IMAP bodies, dropped and purged spool items)."""
    db.execute_sql("DROP TABLE imap_missing_body")
    db.execute_sql("ALTER TABLE spool DROP COLUMN drop_reason")
    db.execute_sql("ALTER TABLE spool DROP COLUMN purged_at")


def _undo_version_6(db) -> None:
    """Undo migration 6 (bounces, recent texts)."""
    db.execute_sql("DROP TABLE bounce_state")
    db.execute_sql("DROP TABLE recent_text")
    db.execute_sql("ALTER TABLE outbox DROP COLUMN author")
    db.execute_sql("ALTER TABLE outbox DROP COLUMN bounced_at")


def _undo_version_5(db) -> None:
    """Undo migration 5 (keys, participants, limits)."""
    db.execute_sql("DROP TABLE participant")
    db.execute_sql("DROP TABLE signing_key")
    db.execute_sql("DROP INDEX contact_email_key")
    db.execute_sql("DROP INDEX outbox_rcpt_key_limit_class_created_at")
    db.execute_sql("ALTER TABLE contact DROP COLUMN email_key")
    db.execute_sql("ALTER TABLE outbox DROP COLUMN limit_class")


UNDO = {7: _undo_version_7, 6: _undo_version_6, 5: _undo_version_5}  # newest first


def _back_to(db, version: int) -> None:
    """A current database made to look like `version` (for the migration tests)."""
    for undone, undo in sorted(UNDO.items(), reverse=True):
        if undone > version:
            undo(db)
    MetaEntry.update(value=str(version)).where(
        MetaEntry.key == "schema_version"
    ).execute()


def _back_to_version_4(db) -> None:
    """A current database made to look like version 4."""
    _back_to(db, 4)


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
