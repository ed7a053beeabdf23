"""The migrations: each step takes the schema from version N-1 to N.

A step also says which code can still run beside it: `compatible_with` is
the oldest schema version whose daemons keep working on the upgraded
database (additive steps, new nullable columns and tables, keep older
daemons running; a step that changes what older code relies on does not).
`tierdesk db upgrade` refuses such a step while an older daemon is alive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
    BounceState,
    Contact,
    DaemonRow,
    ExpectedMessage,
    ImapCheckpoint,
    ImapMissingBody,
    Lease,
    MetaEntry,
    OutboxItem,
    Participant,
    RecentText,
    SigningKeyRow,
)
from tierdesk.storage.search import migrate_to_search, shorten_pending_list

REPLY_SECRET_KEY = "reply_secret"
TICKET_NUMBERS = "ticket_number_seq"


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


def _v9_cluster(db: Database) -> None:
    """Several daemons on one database: heartbeats, leases (which daemon watches
    which mailbox), claims on spool and outbox rows, the messages a new ticket
    expects (a follow-up handled before its request), and on PostgreSQL ticket
    numbers from a sequence, which no transaction holds while it runs."""
    migrator = SchemaMigrator.from_database(db)
    migrate(
        *(
            migrator.add_column(table, column, field)
            for table in ("spool", "outbox")
            for column, field in (
                ("claimed_by", CharField(max_length=64, null=True)),
                ("claimed_until", DateTimeField(null=True)),
            )
        )
    )
    db.create_tables([DaemonRow, Lease, ExpectedMessage], safe=True)
    create_ticket_numbers(db)
    migrate(migrator.add_index("ticket", ("requester_id", "created_at"), False))
    # each of these is the first column of a wider index: one write less per row
    for redundant in (
        "ticket_requester_id",
        "participant_ticket_id",
        "outbox_rcpt_key",
    ):
        db.execute_sql(f"DROP INDEX IF EXISTS {redundant}")


def create_ticket_numbers(db: Database) -> None:
    """On PostgreSQL: the sequence of ticket numbers, going on from the counter row."""
    if not isinstance(db, PostgresqlDatabase):
        return  # SQLite has one writer: the counter row is as good and gap-free
    db.execute_sql(f"CREATE SEQUENCE IF NOT EXISTS {TICKET_NUMBERS}")
    db.execute_sql(
        f"SELECT setval('{TICKET_NUMBERS}', GREATEST(1, (SELECT value FROM counter"
        " WHERE name = 'ticket')), (SELECT value FROM counter WHERE name = 'ticket') > 0)"
    )


@dataclass(frozen=True)
class Step:
    """One migration, and the oldest schema version whose daemons can run beside it."""

    apply: Callable[[Database], None]
    compatible_with: int


# Steps before 9 predate several daemons: each needed the one daemon
# stopped (compatible only with itself). Step 9 too: v8 daemons take
# ticket numbers from the counter row, which PostgreSQL stops using.
MIGRATIONS: dict[int, Step] = {
    2: Step(_v2_imap, 2),
    3: Step(_v3_sla, 3),
    4: Step(_v4_merge, 4),
    5: Step(_v5_trust, 5),
    6: Step(_v6_bounces, 6),
    7: Step(_v7_intake_retention, 7),
    8: Step(_v8_idn_keys, 8),
    9: Step(_v9_cluster, 9),
    # v9 daemons would store messages that the index never hears of
    10: Step(migrate_to_search, 10),
    # a setting of the index: v10 daemons use it as before
    11: Step(shorten_pending_list, 10),
}
