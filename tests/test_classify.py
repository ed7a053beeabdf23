"""classify: which senders may never get anything automatic back, and why."""

from __future__ import annotations

import pytest
from tierdesk.parsers.classify import classify, is_own_address
from tierdesk.parsers.parse import parse_mail
from tierdesk.parsers.parsed import Address, MailKind, ParsedMail

from tests.conftest import fixture_bytes

OWN = frozenset({"support@acme.example", "Billing@Acme.Example"})
INSTANCE = "acme-prod-1"


def mail(
    headers: dict[str, str] | None = None,
    from_: str = "anna.berg@globex.example",
    content_type: str = "text/plain",
    subject: str = "Cannot log in",
) -> ParsedMail:
    """A parsed mail from a customer, with extra headers (names lower-cased)."""
    return ParsedMail(
        message_id="m1@globex.example",
        message_id_synthesized=False,
        in_reply_to=[],
        references=[],
        subject=subject,
        from_=Address("", from_) if from_ else None,
        reply_to=[],
        to=[Address("", "support@acme.example")],
        cc=[],
        date=None,
        headers={k.lower(): v for k, v in (headers or {}).items()},
        content_type=content_type,
        text="hello",
        html=None,
        attachments=[],
    )


def verdict(m: ParsedMail, envelope: str | None = None) -> tuple[MailKind, str]:
    result = classify(m, envelope, OWN, INSTANCE)
    return result.kind, result.reason


@pytest.mark.parametrize(
    ("name", "envelope", "kind", "reason"),
    [
        ("plain.eml", "anna.berg@globex.example", MailKind.HUMAN, ""),
        (
            "own_loop.eml",
            "support@acme.example",
            MailKind.LOOP,
            "X-Tierdesk-Loop: acme-prod-1",
        ),
        ("dsn_bounce.eml", "", MailKind.BOUNCE, "null envelope sender"),
        ("dsn_bounce.eml", None, MailKind.BOUNCE, "Return-Path: <> (null sender)"),
        (
            "auto_reply_vacation.eml",
            None,
            MailKind.AUTO_REPLY,
            "Auto-Submitted: auto-replied",
        ),
        (
            "auto_generated_monitoring.eml",
            None,
            MailKind.AUTO_GENERATED,
            "auto-generated",
        ),
        ("read_receipt.eml", None, MailKind.AUTO_REPLY, "disposition-notification"),
        ("exchange_out_of_office.eml", None, MailKind.AUTO_REPLY, "Automatic reply"),
        ("mailing_list_post.eml", None, MailKind.LIST, "List-Id present"),
        ("precedence_bulk.eml", None, MailKind.BULK, "Precedence: bulk"),
    ],
)
def test_real_messages_are_classified(
    name: str, envelope: str | None, kind: MailKind, reason: str
) -> None:
    found_kind, found_reason = verdict(parse_mail(fixture_bytes(name)), envelope)
    assert found_kind is kind
    assert reason in found_reason


def test_ordinary_customer_mail_is_human() -> None:
    result = classify(mail(), "anna.berg@globex.example", OWN, INSTANCE)
    assert result.kind is MailKind.HUMAN
    assert not result.is_automatic and result.may_open_ticket


@pytest.mark.parametrize(
    "sender", ["support@acme.example", "SUPPORT@ACME.EXAMPLE", "billing@acme.example"]
)
def test_mail_from_our_own_support_address_is_a_loop(sender: str) -> None:
    assert verdict(mail(from_=sender)) == (
        MailKind.LOOP,
        f"From is our own address {sender.lower()}",
    )


def test_plus_addressed_form_of_our_address_is_a_loop() -> None:
    assert verdict(mail(from_="Support+ticket-12@acme.example"))[0] is MailKind.LOOP


@pytest.mark.parametrize("header", ["Sender", "Return-Path"])
def test_our_address_in_sender_or_return_path_is_a_loop(header: str) -> None:
    kind, reason = verdict(mail({header: "Acme Support <support@acme.example>"}))
    assert kind is MailKind.LOOP and reason.startswith(header)


def test_loop_header_of_another_tierdesk_instance_is_not_our_loop() -> None:
    assert verdict(mail({"X-Tierdesk-Loop": "globex-prod"}))[0] is MailKind.HUMAN


@pytest.mark.parametrize("envelope", ["", "<>", " <> "])
def test_null_envelope_sender_is_a_bounce(envelope: str) -> None:
    assert verdict(mail(), envelope) == (MailKind.BOUNCE, "null envelope sender")


def test_unknown_envelope_sender_is_not_a_bounce() -> None:
    assert verdict(mail(), None)[0] is MailKind.HUMAN


@pytest.mark.parametrize(
    ("headers", "from_"),
    [
        ({}, "MAILER-DAEMON@mx.globex.example"),
        ({}, "postmaster@globex.example"),
        ({"Return-Path": "<Mailer-Daemon@mx.globex.example>"}, "anna@globex.example"),
    ],
)
def test_mailer_daemon_and_postmaster_are_bounces(
    headers: dict[str, str], from_: str
) -> None:
    assert verdict(mail(headers, from_=from_))[0] is MailKind.BOUNCE


def test_delivery_status_report_is_a_bounce() -> None:
    report = mail(
        {"Content-Type": 'multipart/report; report-type="Delivery-Status"; boundary=x'},
        content_type="multipart/report",
    )
    assert verdict(report) == (
        MailKind.BOUNCE,
        "multipart/report; report-type=delivery-status",
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("auto-replied", MailKind.AUTO_REPLY),
        ('Auto-Replied; owner-email="erin@wayne.example"', MailKind.AUTO_REPLY),
        ("auto-replied (vacation)", MailKind.AUTO_REPLY),
        ("auto-notified", MailKind.AUTO_REPLY),
        ("auto-generated", MailKind.AUTO_GENERATED),
        ("AUTO-GENERATED (cron)", MailKind.AUTO_GENERATED),
        ("no", MailKind.HUMAN),
        ("No (sent by a person)", MailKind.HUMAN),
    ],
)
def test_auto_submitted_values(value: str, kind: MailKind) -> None:
    assert verdict(mail({"Auto-Submitted": value}))[0] is kind


@pytest.mark.parametrize("header", ["X-Autoreply", "X-Autorespond"])
def test_x_autoreply_headers_mark_an_auto_reply(header: str) -> None:
    assert verdict(mail({header: "yes"})) == (MailKind.AUTO_REPLY, f"{header} present")


def test_precedence_auto_reply_marks_an_auto_reply() -> None:
    assert verdict(mail({"Precedence": "Auto_Reply"}))[0] is MailKind.AUTO_REPLY


def test_read_receipt_is_an_auto_reply() -> None:
    receipt = mail(
        {"Content-Type": "multipart/report; report-type=disposition-notification"},
        content_type="multipart/report",
    )
    assert verdict(receipt)[0] is MailKind.AUTO_REPLY


def test_x_auto_response_suppress_alone_is_not_evidence() -> None:
    assert verdict(mail({"X-Auto-Response-Suppress": "All"}))[0] is MailKind.HUMAN


def test_automatic_reply_subject_alone_is_not_evidence() -> None:
    assert verdict(mail(subject="Automatic reply: hello"))[0] is MailKind.HUMAN


@pytest.mark.parametrize(
    "subject", ["Automatische Antwort: Rechnung", "Réponse automatique : facture"]
)
def test_localised_exchange_out_of_office_is_an_auto_reply(subject: str) -> None:
    oof = mail({"X-Auto-Response-Suppress": "All"}, subject=subject)
    assert verdict(oof)[0] is MailKind.AUTO_REPLY


@pytest.mark.parametrize("header", ["List-Id", "List-Post", "X-Mailing-List"])
def test_list_headers_mark_list_traffic(header: str) -> None:
    assert verdict(mail({header: "<x.lists.example>"})) == (
        MailKind.LIST,
        f"{header} present",
    )


def test_list_precedence_marks_list_traffic() -> None:
    assert verdict(mail({"Precedence": "List"})) == (MailKind.LIST, "Precedence: list")


@pytest.mark.parametrize("value", ["bulk", "junk", "BULK"])
def test_bulk_precedence_alone_is_bulk_which_may_open_a_ticket(value: str) -> None:
    found = classify(mail({"Precedence": value}), None, OWN, INSTANCE)
    assert (found.kind, found.reason) == (MailKind.BULK, f"Precedence: {value.lower()}")
    assert found.may_open_ticket and found.is_person and found.is_automatic


def test_list_unsubscribe_alone_is_bulk_not_list() -> None:
    # Mail services add it to every mail they relay (Gmail's bulk-sender rules)
    found = verdict(mail({"List-Unsubscribe": "<mailto:unsub@mailer.example>"}))
    assert found == (MailKind.BULK, "List-Unsubscribe present")


def test_list_id_with_list_unsubscribe_is_list_traffic() -> None:
    headers = {"List-Id": "<news.monarch.example>", "List-Unsubscribe": "<mailto:u@x>"}
    assert verdict(mail(headers))[0] is MailKind.LIST


def test_mail_through_our_own_list_is_judged_without_the_list_headers() -> None:
    via_group = mail(
        {
            "List-Id": "Support <support.acme.example>",
            "List-Unsubscribe": "<mailto:support+unsubscribe@acme.example>",
            "Precedence": "list",
        }
    )
    own = frozenset({"support.acme.example"})
    assert classify(via_group, None, OWN, INSTANCE, own).kind is MailKind.HUMAN
    other = frozenset({"sales.acme.example"})
    assert classify(via_group, None, OWN, INSTANCE, other).kind is MailKind.LIST


@pytest.mark.parametrize(
    ("headers", "envelope", "kind"),
    [
        ({"X-Tierdesk-Loop": INSTANCE}, "", MailKind.LOOP),
        ({"Auto-Submitted": "auto-replied"}, "<>", MailKind.BOUNCE),
        (
            {"Auto-Submitted": "auto-replied", "List-Id": "<l>"},
            None,
            MailKind.AUTO_REPLY,
        ),
        (
            {"Auto-Submitted": "auto-generated", "Precedence": "bulk"},
            None,
            MailKind.AUTO_GENERATED,
        ),
    ],
)
def test_rules_apply_in_order_loop_bounce_reply_generated_list(
    headers: dict[str, str], envelope: str | None, kind: MailKind
) -> None:
    assert verdict(mail(headers), envelope)[0] is kind


def test_only_humans_and_machine_notifications_may_open_tickets() -> None:
    assert classify(
        mail({"Auto-Submitted": "auto-generated"}), None, OWN, "x"
    ).may_open_ticket
    assert not classify(
        mail({"Auto-Submitted": "auto-replied"}), None, OWN, "x"
    ).may_open_ticket


@pytest.mark.parametrize(
    ("address", "ours"),
    [
        ("support@acme.example", True),
        ("Support <SUPPORT@acme.example>", True),
        ("<support@acme.example>", True),
        ("support+ticket-12@Acme.Example", True),
        ("billing@acme.example", True),
        ("support@acme.example.evil.example", False),
        ("notsupport@acme.example", False),
        ("support@globex.example", False),
        ("", False),
        ("<>", False),
    ],
)
def test_is_own_address(address: str, ours: bool) -> None:
    assert is_own_address(address, OWN) is ours
