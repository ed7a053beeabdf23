"""Current databases made to look like older schema versions, for the migration tests."""

from __future__ import annotations

from peewee import Database
from tierdesk.storage.db import is_sqlite
from tierdesk.storage.models import MetaEntry


def _undo_version_7(db: Database) -> None:
    """Undo migration 7 (missing IMAP bodies, dropped and purged spool items)."""
    db.execute_sql("DROP TABLE imap_missing_body")
    db.execute_sql("ALTER TABLE spool DROP COLUMN drop_reason")
    db.execute_sql("ALTER TABLE spool DROP COLUMN purged_at")


def _undo_version_6(db: Database) -> None:
    """Undo migration 6 (bounces, recent texts)."""
    db.execute_sql("DROP TABLE bounce_state")
    db.execute_sql("DROP TABLE recent_text")
    db.execute_sql("ALTER TABLE outbox DROP COLUMN author")
    db.execute_sql("ALTER TABLE outbox DROP COLUMN bounced_at")


def _undo_version_5(db: Database) -> None:
    """Undo migration 5 (keys, participants, limits)."""
    db.execute_sql("DROP TABLE participant")
    db.execute_sql("DROP TABLE signing_key")
    db.execute_sql("DROP INDEX contact_email_key")
    db.execute_sql("DROP INDEX outbox_rcpt_key_limit_class_created_at")
    db.execute_sql("ALTER TABLE contact DROP COLUMN email_key")
    db.execute_sql("ALTER TABLE outbox DROP COLUMN limit_class")


def _undo_version_9(db: Database) -> None:
    """Undo migration 9 (heartbeats, leases, claims, the ticket number sequence)."""
    db.execute_sql("DROP TABLE daemon")
    db.execute_sql("DROP TABLE lease")
    db.execute_sql("DROP TABLE expected_message")
    for table in ("spool", "outbox"):
        db.execute_sql(f"ALTER TABLE {table} DROP COLUMN claimed_by")
        db.execute_sql(f"ALTER TABLE {table} DROP COLUMN claimed_until")
    if not is_sqlite(db):
        db.execute_sql("DROP SEQUENCE ticket_number_seq")
    MetaEntry.delete().where(MetaEntry.key == "schema_compatible_with").execute()
    db.execute_sql("DROP INDEX ticket_requester_id_created_at")
    db.execute_sql("CREATE INDEX ticket_requester_id ON ticket (requester_id)")
    db.execute_sql("CREATE INDEX participant_ticket_id ON participant (ticket_id)")
    db.execute_sql("CREATE INDEX outbox_rcpt_key ON outbox (rcpt_key)")


def _undo_version_10(db: Database) -> None:
    """Undo migration 10 (the full-text index of messages)."""
    db.execute_sql("DROP TABLE message_search")


def _undo_version_11(db: Database) -> None:
    """Undo migration 11 (the full-text index's short pending list)."""
    if not is_sqlite(db):
        db.execute_sql(
            "ALTER INDEX message_search_document RESET (gin_pending_list_limit)"
        )


UNDO = {
    11: _undo_version_11,
    10: _undo_version_10,
    9: _undo_version_9,
    7: _undo_version_7,
    6: _undo_version_6,
    5: _undo_version_5,
}  # newest first


def back_to(db: Database, version: int) -> None:
    """A current database made to look like `version` (for the migration tests)."""
    for undone, undo in sorted(UNDO.items(), reverse=True):
        if undone > version:
            undo(db)
    MetaEntry.update(value=str(version)).where(
        MetaEntry.key == "schema_version"
    ).execute()
