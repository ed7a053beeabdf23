"""Schema versions: `tierdesk db upgrade` creates or migrates; the daemon checks.

An empty database gets today's schema straight from the models. An older one
gets each migration from its version on; a migration is a function from
version N-1 to N, and all of them run in one transaction together with the
new version number.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from peewee import (
    BigIntegerField,
    CharField,
    Database,
    DateTimeField,
    FloatField,
    IntegerField,
    PostgresqlDatabase,
    TextField,
)
from playhouse.migrate import SchemaMigrator, migrate
from tierdesk.rules.guard import address_key
from tierdesk.storage.models import (
    ALL_MODELS,
    BounceState,
    Contact,
    Counter,
    ImapCheckpoint,
    ImapMissingBody,
    MetaEntry,
    OutboxItem,
    Participant,
    RecentText,
    SigningKeyRow,
)

SCHEMA_VERSION_KEY = "schema_version"
INSTANCE_ID_KEY = "instance_id"
REPLY_SECRET_KEY = "reply_secret"


class SchemaError(Exception):
    """The database schema is missing, older or newer than this tierdesk."""


def _create_current(db: Database) -> None:
    db.create_tables(ALL_MODELS, safe=True)
    Counter.insert(name="ticket", value=0).on_conflict_ignore().execute()
    MetaEntry.insert(
        key=INSTANCE_ID_KEY, value=secrets.token_hex(8)
    ).on_conflict_ignore().execute()


def _v2_imap(db: Database) -> None:
    """IMAP intake: a checkpoint per mailbox, and the mailbox a spooled message came from."""
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("spool", "mailbox", TextField(default="")))
    db.create_tables([ImapCheckpoint], safe=True)


def _v3_sla(db: Database) -> None:
    """Routing results and SLA clocks on the ticket."""
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("ticket", "tags", TextField(default="")),
        migrator.add_column("ticket", "sla", CharField(max_length=64, null=True)),
        *(
            migrator.add_column("ticket", name, DateTimeField(null=True))
            for name in SLA_TIMES
        ),
        migrator.add_column("ticket", "first_response_left", FloatField(null=True)),
        migrator.add_column("ticket", "resolution_left", FloatField(null=True)),
        migrator.add_column("ticket", "escalations", IntegerField(default=0)),
        migrator.add_index("ticket", ("first_response_due_at",), False),
        migrator.add_index("ticket", ("resolution_due_at",), False),
        migrator.add_index("ticket", ("resolved_at",), False),
    )


SLA_TIMES = (
    "first_response_due_at",
    "resolution_due_at",
    "first_response_at",
    "resolved_at",
    "sla_warn_at",
    "sla_warned_at",
    "sla_paused_at",
)


def _v4_merge(db: Database) -> None:
    """Merged tickets point at the ticket that took their messages."""
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("ticket", "merged_into", BigIntegerField(null=True)))


def _v5_trust(db: Database) -> None:
    """Signing keys with ids, participants, limits per address and class of mail."""
    migrator = SchemaMigrator.from_database(db)
    migrate(
        # nullable, so SQLite adds them in place instead of rebuilding tables
        # that other tables' foreign keys point at
        migrator.add_column(
            "contact", "email_key", CharField(max_length=320, null=True)
        ),
        migrator.add_column(
            "outbox", "limit_class", CharField(max_length=16, null=True)
        ),
        migrator.add_index("contact", ("email_key",), False),
        migrator.add_index("outbox", ("rcpt_key", "limit_class", "created_at"), False),
    )
    db.create_tables([SigningKeyRow, Participant], safe=True)
    for contact_id, email in db.execute_sql("SELECT id, email FROM contact").fetchall():
        Contact.update(email_key=address_key(email)).where(
            Contact.id == contact_id
        ).execute()
    for item_id, rcpt, kind, automatic in db.execute_sql(
        "SELECT id, rcpt_key, kind, automatic FROM outbox"
    ).fetchall():
        limit_class = (
            "automatic"
            if automatic
            else "relayed"
            if kind in ("reply", "vendor")
            else "notice"
        )
        OutboxItem.update(rcpt_key=address_key(rcpt), limit_class=limit_class).where(
            OutboxItem.id == item_id
        ).execute()
    db.execute_sql(
        "INSERT INTO participant (ticket_id, address, role, created_at)"
        " SELECT t.id, c.email_key, 'requester', t.created_at"
        " FROM ticket t JOIN contact c ON c.id = t.requester_id"
    )
    old = MetaEntry.get_or_none(MetaEntry.key == REPLY_SECRET_KEY)
    if old is not None:
        # the secret that signed every address so far becomes the first key
        SigningKeyRow.insert(id="00", secret=old.value).on_conflict_ignore().execute()


def _v6_bounces(db: Database) -> None:
    """Bounces matched back (who wrote a relayed answer, when a mail bounced), bounce
    scores per address, and recent texts to notice robots that repeat themselves."""
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("outbox", "author", CharField(max_length=64, null=True)),
        migrator.add_column("outbox", "bounced_at", DateTimeField(null=True)),
    )
    db.create_tables([BounceState, RecentText], safe=True)


def _v7_intake_retention(db: Database) -> None:
    """IMAP messages listed without a body (attempts per UID, kept across restarts),
    and on the spool: why an admin dropped an item, and when its raw bytes were purged."""
    migrator = SchemaMigrator.from_database(db)
    migrate(
        # nullable, so SQLite adds them in place instead of rebuilding the spool
        # table (raw mail, and message rows point at it)
        migrator.add_column("spool", "drop_reason", TextField(null=True)),
        migrator.add_column("spool", "purged_at", DateTimeField(null=True)),
    )
    db.create_tables([ImapMissingBody], safe=True)


def _v8_idn_keys(db: Database) -> None:
    """Addresses at an internationalised domain are keyed by its A-labels, so that
    olga@пример.рф and olga@xn--e1afmkfd.xn--p1ai are one customer.

    Only contacts and participants can hold such keys: no mail to an
    address that was not ASCII could be written before, so no outbox row
    or bounce score has one, and recent texts age out within hours.
    """
    for contact_id, email in db.execute_sql("SELECT id, email FROM contact").fetchall():
        if not email.isascii():
            Contact.update(email_key=address_key(email)[:320]).where(
                Contact.id == contact_id
            ).execute()
    rows = db.execute_sql("SELECT id, ticket_id, address FROM participant").fetchall()
    for row_id, ticket_id, address in rows:
        key = address_key(address)[:320]
        if address.isascii() or key == address:
            continue
        if (
            Participant.select()
            .where((Participant.ticket == ticket_id) & (Participant.address == key))
            .exists()
        ):  # both spellings were on the ticket: they are one participant now
            Participant.delete().where(Participant.id == row_id).execute()
        else:
            Participant.update(address=key).where(Participant.id == row_id).execute()


MIGRATIONS: dict[int, Callable[[Database], None]] = {
    2: _v2_imap,
    3: _v3_sla,
    4: _v4_merge,
    5: _v5_trust,
    6: _v6_bounces,
    7: _v7_intake_retention,
    8: _v8_idn_keys,
}
SCHEMA_VERSION = max(MIGRATIONS)


def _tables(db: Database) -> list[str]:
    """Tables visible to us (on PostgreSQL: in the current schema, not always `public`)."""
    if isinstance(db, PostgresqlDatabase):
        schema = db.execute_sql("SELECT current_schema()").fetchone()[0]
        return db.get_tables(schema=schema)
    return db.get_tables()


def current_version(db: Database) -> int | None:
    """The schema version recorded in the database, or None for an empty database."""
    if MetaEntry._meta.table_name not in _tables(db):
        return None
    row = MetaEntry.get_or_none(MetaEntry.key == SCHEMA_VERSION_KEY)
    return int(row.value) if row else None


def upgrade(db: Database) -> list[int]:
    """Apply every missing migration; returns the versions applied."""
    applied = []
    with db.atomic():
        version = current_version(db)
        if version is None:
            _create_current(db)
            applied.append(SCHEMA_VERSION)
        elif version > SCHEMA_VERSION:
            raise SchemaError(_too_new(version))
        else:
            for target in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](db)
                applied.append(target)
        if applied:
            MetaEntry.insert(
                key=SCHEMA_VERSION_KEY, value=str(SCHEMA_VERSION)
            ).on_conflict(
                conflict_target=[MetaEntry.key],
                update={MetaEntry.value: str(SCHEMA_VERSION)},
            ).execute()
    return applied


def ensure_schema(db: Database, create_if_empty: bool = True) -> None:
    """Refuse a schema we do not know; an entirely empty database is initialised."""
    version = current_version(db)
    if version is None and not _tables(db) and create_if_empty:
        upgrade(db)
        return
    if version is None:
        raise SchemaError(
            "the database has no tierdesk schema: run `tierdesk db upgrade`"
        )
    if version < SCHEMA_VERSION:
        raise SchemaError(
            f"the database schema is version {version}, this tierdesk needs {SCHEMA_VERSION}: "
            "run `tierdesk db upgrade`"
        )
    if version > SCHEMA_VERSION:
        raise SchemaError(_too_new(version))


def _too_new(version: int) -> str:
    return (
        f"the database schema is version {version}, newer than this tierdesk knows "
        f"({SCHEMA_VERSION}): upgrade tierdesk"
    )


def instance_id(db: Database) -> str:
    """This database's random instance id (marks our own mail to catch loops)."""
    row = MetaEntry.get_or_none(MetaEntry.key == INSTANCE_ID_KEY)
    return row.value if row else ""


def reply_secret(db: Database) -> bytes:
    """The secret that signs our reply addresses, made on first use and kept in the database.

    Kept with the data, so every daemon sharing the database (and a restored
    backup) accepts the addresses the others handed out.
    """
    MetaEntry.insert(
        key=REPLY_SECRET_KEY, value=secrets.token_hex(32)
    ).on_conflict_ignore().execute()
    return bytes.fromhex(MetaEntry.get(MetaEntry.key == REPLY_SECRET_KEY).value)
