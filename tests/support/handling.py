"""Building handling's inputs by hand: a message from an .eml fixture, a ticket, settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tierdesk.parsers.authres import AuthResults
from tierdesk.parsers.classify import classify
from tierdesk.parsers.parse import parse_mail
from tierdesk.parsers.reply_address import KeyRing
from tierdesk.parsers.subject import parse_subject
from tierdesk.rules.handling.facts import Envelope, Inbound, TicketFacts
from tierdesk.rules.handling.settings import Settings
from tierdesk.rules.model import Agent, RuleSet

from tests.conftest import fixture_bytes

SECRET = (
    b"handling-tests"  # signed the addresses in tests/fixtures/agents/ on NOW's day
)
KEYS = KeyRing.single(SECRET)
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
OURS = frozenset({"support@example.com"})
AGENTS = {
    "alice": Agent("alice", "alice@acme.example", "Alice Smith", 1),
    "bob": Agent("bob", "bob@acme.example", "Bob Jones", 1),
    "carol": Agent("carol", "carol@acme.example", "Carol White", 2),
    "acmevendor": Agent("acmevendor", "help@vendor.example", "Vendor Desk", 4),
}
RULES = RuleSet(
    source="(test)",
    queues=frozenset({"default", "hardware"}),
    agents=AGENTS,
    groups={"printer-people": ("bob",)},
    queue_vendors={"hardware": "acmevendor"},
    queue_groups={"hardware": "printer-people"},
)
SETTINGS = Settings(rules=RULES, own_addresses=OURS, subject_tag="ACME")


FROM_HEADER = "(the From address)"


def inbound(
    fixture: str,
    recipients: tuple[str, ...] = ("support@example.com",),
    envelope_sender: str | None = FROM_HEADER,
    authentication: AuthResults | None = None,
) -> Inbound:
    """A fixture as the parse and classify stages hand it on (by default with the
    envelope of a plain mail: From as sender, `recipients` as RCPT TO)."""
    mail = parse_mail(fixture_bytes(fixture))
    if envelope_sender == FROM_HEADER:
        envelope_sender = mail.from_.key if mail.from_ else None
    return Inbound(
        spool_id=1,
        mail=mail,
        classification=classify(mail, envelope_sender, OURS, "instance-1"),
        subject=parse_subject(mail.subject, "ACME"),
        recipients=recipients,
        envelope=Envelope(envelope_sender, recipients, authentication),
    )


TICKET = TicketFacts(
    id=10,
    number=1,
    subject="Printer on floor 3 is offline",
    status="new",
    tier=1,
    queue="default",
    priority="normal",
    language="en",
    requester_email="alice@customer.example",
    requester_name="Alice Example",
    assignee=None,
)


def ticket(**changes: object) -> TicketFacts:
    """Ticket 1 (Alice Example's printer), with `changes`."""
    return replace(TICKET, **changes)
