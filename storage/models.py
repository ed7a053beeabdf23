"""peewee models: the whole state of a tierdesk instance lives in these tables.

Raw mail and attachment bytes are in the database too, so one backup holds
everything. Timestamps are naive UTC (`storage.clock.column_default`).
"""

from __future__ import annotations

from peewee import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from tierdesk.storage.clock import column_default

TICKET_STATUSES = ("new", "open", "pending", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
TIERS = (1, 2, 3, 4)


class BaseModel(Model):
    """Common base: snake_case table names, bound to a database at open time."""

    class Meta:
        legacy_table_names = False


class MetaEntry(BaseModel):
    """Key/value facts about this database: schema version, instance id."""

    key = CharField(primary_key=True, max_length=64)
    value = TextField()

    class Meta:
        table_name = "meta"


class Counter(BaseModel):
    """Named sequences; `ticket` hands out public ticket numbers."""

    name = CharField(primary_key=True, max_length=64)
    value = BigIntegerField(default=0)


class Contact(BaseModel):
    """A person or robot we have exchanged mail with, keyed by lower-cased address."""

    email = CharField(unique=True, max_length=320)
    name = TextField(default="")
    created_at = DateTimeField(default=column_default)
    # the address as limits count it: lower-cased, without a +tag
    email_key = CharField(max_length=320, default="", null=True, index=True)


class Ticket(BaseModel):
    """One request and its whole conversation."""

    number = BigIntegerField(unique=True)
    subject = TextField(default="")
    status = CharField(max_length=16, default="new", index=True)
    tier = IntegerField(default=1)
    queue = CharField(max_length=64, default="default")
    priority = CharField(max_length=16, default="normal")
    language = CharField(max_length=8, default="en")
    # indexed by Meta.indexes (requester, created_at), which serves look-ups by requester too
    requester = ForeignKeyField(Contact, backref="tickets", index=False)
    assignee = CharField(max_length=64, null=True)
    created_at = DateTimeField(default=column_default)
    updated_at = DateTimeField(default=column_default)
    tags = TextField(default="")
    sla = CharField(max_length=64, null=True)
    first_response_due_at = DateTimeField(null=True, index=True)
    resolution_due_at = DateTimeField(null=True, index=True)
    first_response_at = DateTimeField(null=True)
    resolved_at = DateTimeField(null=True, index=True)
    sla_warn_at = DateTimeField(null=True)
    sla_warned_at = DateTimeField(null=True)
    sla_paused_at = DateTimeField(null=True)
    first_response_left = FloatField(null=True)
    resolution_left = FloatField(null=True)
    escalations = IntegerField(default=0)
    merged_into = BigIntegerField(null=True)

    class Meta:
        # the hourly count of a sender's new tickets, without reading all of theirs
        indexes = ((("requester", "created_at"), False),)


class SpoolItem(BaseModel):
    """A raw message exactly as it arrived, committed before we acknowledge it."""

    received_at = DateTimeField(default=column_default)
    source = CharField(max_length=16)
    mail_from = TextField(null=True)
    rcpt_tos = TextField(default="[]")
    peer = TextField(default="")
    mailbox = TextField(default="")
    raw = BlobField()
    sha256 = CharField(max_length=64, index=True)
    size = IntegerField()
    state = CharField(max_length=16, default="new")
    attempts = IntegerField(default=0)
    error = TextField(default="")
    outcome = CharField(max_length=16, default="")
    message_id = TextField(default="")
    ticket = ForeignKeyField(
        Ticket, null=True, backref="spool_items", on_delete="SET NULL"
    )
    processed_at = DateTimeField(null=True)
    drop_reason = TextField(null=True)  # why an admin dropped it (state `dropped`)
    purged_at = DateTimeField(null=True)  # raw bytes emptied by `tierdesk purge`
    # the daemon working on it (and, once done, the one that did); free again
    # for any daemon once `claimed_until` has passed
    claimed_by = CharField(max_length=64, null=True)
    claimed_until = DateTimeField(null=True)

    class Meta:
        table_name = "spool"
        indexes = ((("state", "id"), False),)


class Message(BaseModel):
    """One mail in a ticket, incoming or outgoing; its Message-ID is unique."""

    ticket = ForeignKeyField(Ticket, backref="messages", index=True)
    message_id = CharField(unique=True, max_length=998)
    in_reply_to = TextField(default="")
    references = TextField(default="")
    direction = CharField(max_length=3)
    kind = CharField(max_length=24)
    sender = CharField(max_length=320, default="")
    sender_name = TextField(default="")
    recipients = TextField(default="[]")
    subject = TextField(default="")
    text = TextField(default="")
    html = TextField(null=True)
    sent_date = DateTimeField(null=True)
    created_at = DateTimeField(default=column_default)
    spool = ForeignKeyField(
        SpoolItem, null=True, backref="messages", on_delete="SET NULL"
    )
    defects = TextField(default="")


class Blob(BaseModel):
    """Attachment bytes, stored once however many messages carry them."""

    sha256 = CharField(primary_key=True, max_length=64)
    size = BigIntegerField()
    data = BlobField()


class Attachment(BaseModel):
    """A file of a message; the bytes are in `Blob`."""

    message = ForeignKeyField(
        Message, backref="attachments", index=True, on_delete="CASCADE"
    )
    filename = TextField()
    content_type = CharField(max_length=255)
    size = BigIntegerField()
    sha256 = ForeignKeyField(Blob, field=Blob.sha256, column_name="sha256", index=True)
    content_id = TextField(null=True)
    inline = BooleanField(default=False)


class OutboxItem(BaseModel):
    """A rendered outgoing mail, written in the same transaction as its cause."""

    created_at = DateTimeField(default=column_default)
    ticket = ForeignKeyField(Ticket, null=True, backref="outbox", on_delete="SET NULL")
    message = ForeignKeyField(
        Message,
        null=True,
        backref="outbox",
        on_delete="SET NULL",
        column_name="message_ref",
    )
    kind = CharField(max_length=24)
    automatic = BooleanField(default=True)
    # which limit the mail counts against: automatic, notice or relayed
    limit_class = CharField(max_length=16, default="automatic", null=True)
    author = CharField(
        max_length=64, default="", null=True
    )  # the agent of a relayed answer
    bounced_at = DateTimeField(null=True)  # a bounce came back for it
    mail_from = TextField()
    rcpt_tos = TextField()
    rcpt_key = CharField(max_length=320)  # indexed with limit_class, created_at
    message_id = TextField()
    raw = BlobField()
    state = CharField(max_length=16, default="pending")
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=column_default)
    last_error = TextField(default="")
    sent_at = DateTimeField(null=True)
    claimed_by = CharField(max_length=64, null=True)  # as on the spool
    claimed_until = DateTimeField(null=True)

    class Meta:
        table_name = "outbox"
        indexes = (
            (("state", "next_attempt_at"), False),
            (("rcpt_key", "limit_class", "created_at"), False),
        )


class Event(BaseModel):
    """One line of a ticket's history: who changed what, and when."""

    ticket = ForeignKeyField(Ticket, backref="events", index=True, on_delete="CASCADE")
    created_at = DateTimeField(default=column_default)
    actor = TextField()
    kind = CharField(max_length=32)
    field_name = CharField(max_length=32, default="")
    old_value = TextField(default="")
    new_value = TextField(default="")
    detail = TextField(default="")


class ImapCheckpoint(BaseModel):
    """How far an IMAP mailbox has been read: its UIDVALIDITY and the last UID spooled."""

    mailbox = CharField(primary_key=True, max_length=128)
    uidvalidity = BigIntegerField()
    last_uid = BigIntegerField()
    updated_at = DateTimeField(default=column_default)


class ImapMissingBody(BaseModel):
    """A message an IMAP server listed but sent without its body: attempts, and whether we gave up."""

    mailbox = CharField(max_length=128)
    uidvalidity = BigIntegerField()
    uid = BigIntegerField()
    attempts = IntegerField(default=0)
    last_missing_at = DateTimeField(default=column_default)
    given_up_at = DateTimeField(null=True)  # left in the folder, passed over

    class Meta:
        table_name = "imap_missing_body"
        indexes = ((("mailbox", "uidvalidity", "uid"), True),)


class SigningKeyRow(BaseModel):
    """A secret that signs reply addresses; retired once a newer one takes over."""

    id = CharField(primary_key=True, max_length=2)
    secret = TextField()  # hex
    created_at = DateTimeField(default=column_default)
    retired_at = DateTimeField(null=True)

    class Meta:
        table_name = "signing_key"


class Participant(BaseModel):
    """Someone who belongs on a ticket: its requester, customers copied, agents, a vendor."""

    # indexed by Meta.indexes (ticket, address), which serves look-ups by ticket too
    ticket = ForeignKeyField(
        Ticket, backref="participants", on_delete="CASCADE", index=False
    )
    address = CharField(max_length=320)  # as limits count it (address_key)
    role = CharField(max_length=16)  # requester, cc, agent, vendor
    created_at = DateTimeField(default=column_default)

    class Meta:
        indexes = ((("ticket", "address"), True),)


class BounceState(BaseModel):
    """How much an address bounces (Mailman's score: hard 1.0, soft 0.5, one a day)."""

    address = CharField(primary_key=True, max_length=320)  # address key
    score = FloatField(default=0.0)
    last_bounce_on = DateField(null=True)
    suppressed_at = DateTimeField(null=True)  # past the threshold: no automatic mail
    diagnostic = TextField(default="")
    updated_at = DateTimeField(default=column_default)

    class Meta:
        table_name = "bounce_state"


class RecentText(BaseModel):
    """A fingerprint of what an address wrote lately, to notice robots that repeat themselves."""

    address = CharField(max_length=320)  # address key
    fingerprint = CharField(max_length=40)
    seen_at = DateTimeField(default=column_default)

    class Meta:
        table_name = "recent_text"
        indexes = ((("address", "fingerprint", "seen_at"), False),)


class ExpectedMessage(BaseModel):
    """A Message-ID that a ticket's first message referred to before we had it.

    A follow-up can be handled before the request it answers (two daemons,
    or IMAP and SMTP): the request, when it comes, joins the follow-up's
    ticket instead of opening a second one.
    """

    message_id = CharField(primary_key=True, max_length=998)
    ticket = ForeignKeyField(Ticket, on_delete="CASCADE", index=True)
    created_at = DateTimeField(default=column_default)

    class Meta:
        table_name = "expected_message"


class DaemonRow(BaseModel):
    """A running daemon's heartbeat: who it is, what its code knows, when it last beat."""

    id = CharField(primary_key=True, max_length=64)  # host:pid:random
    host = CharField(max_length=255)
    pid = IntegerField()
    version = CharField(max_length=32)
    schema_version = IntegerField()  # the newest schema its code knows
    started_at = DateTimeField()
    beat_at = DateTimeField()

    class Meta:
        table_name = "daemon"


class Lease(BaseModel):
    """Something one daemon at a time may do (`imap:NAME`: watch that mailbox) until it expires."""

    name = CharField(primary_key=True, max_length=255)
    holder = CharField(max_length=64)
    acquired_at = DateTimeField()
    expires_at = DateTimeField()


ALL_MODELS: tuple[type[BaseModel], ...] = (
    MetaEntry,
    Counter,
    Contact,
    Ticket,
    SpoolItem,
    Message,
    Blob,
    Attachment,
    OutboxItem,
    Event,
    ImapCheckpoint,
    ImapMissingBody,
    SigningKeyRow,
    Participant,
    BounceState,
    RecentText,
    ExpectedMessage,
    DaemonRow,
    Lease,
)
