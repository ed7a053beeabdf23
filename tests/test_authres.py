"""Authentication-Results: only our own server's header counts, and only its topmost copy."""

from __future__ import annotations

from tierdesk.parsers.authres import (
    dkim_or_dmarc_pass,
    parse_authres,
    sender_domain_passes,
    trusted_results,
)
from tierdesk.parsers.parse import parse_mail

GMAIL_STYLE = (
    "mx.acme.example; dkim=pass header.i=@acme.example header.s=s1 header.b=abc;"
    " spf=pass (mx.acme.example: domain of alice@acme.example designates 192.0.2.1"
    " as permitted sender) smtp.mailfrom=alice@acme.example;"
    " dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=acme.example"
)


def mail_with(*results: str) -> bytes:
    headers = "".join(f"Authentication-Results: {r}\r\n" for r in results)
    return (
        f"{headers}From: Alice <alice@acme.example>\r\nTo: support@example.com\r\n"
        "Subject: hi\r\nMessage-ID: <a@acme.example>\r\n\r\nhello\r\n"
    ).encode()


def test_a_header_with_comments_and_several_methods_is_read():
    results = parse_authres(GMAIL_STYLE)

    assert results.authserv_id == "mx.acme.example"
    assert [(r.method, r.result) for r in results.results] == [
        ("dkim", "pass"),
        ("spf", "pass"),
        ("dmarc", "pass"),
    ]
    assert results.results[2].properties["header.from"] == "acme.example"


def test_only_the_trusted_authserv_ids_topmost_header_counts():
    forged_below = "mx.acme.example; dkim=pass header.d=acme.example"
    ours = "mx.acme.example; dkim=fail header.d=acme.example"
    mail = parse_mail(mail_with(ours, forged_below))

    results = trusted_results(mail, "mx.acme.example")

    assert dkim_or_dmarc_pass(results, "acme.example") is None


def test_headers_claiming_another_authserv_id_are_ignored():
    mail = parse_mail(mail_with("evil.example; dmarc=pass header.from=acme.example"))

    assert trusted_results(mail, "mx.acme.example") is None
    assert trusted_results(mail, None) is None


def test_dkim_must_be_signed_by_the_domain_itself_or_a_parent():
    results = parse_authres("mx; dkim=pass header.d=acme.example")

    assert dkim_or_dmarc_pass(results, "mail.acme.example") == "dkim"
    assert dkim_or_dmarc_pass(results, "acme.example") == "dkim"
    assert dkim_or_dmarc_pass(results, "evilacme.example") is None
    assert (
        dkim_or_dmarc_pass(parse_authres("mx; dkim=pass header.d=example"), "x.example")
        is None
    )


def test_spf_vouches_for_a_from_domain_only_when_the_envelope_domain_is_the_same():
    results = parse_authres("mx; spf=pass smtp.mailfrom=bounce@mailer.example")

    assert sender_domain_passes(results, "customer.example") is None
    assert sender_domain_passes(results, "mailer.example") == "spf"


def test_unreadable_headers_are_no_result():
    assert parse_authres("mx; dkim=pass (unclosed comment") is None
    assert parse_authres("") is None
    assert parse_authres("x" * 9000) is None


def test_over_imap_only_the_mtas_topmost_delivery_header_names_the_recipient():
    from tierdesk.rules.handling.settings import IntakeTrust
    from tierdesk.rules.handling.trust import envelope_of

    raw = (
        b"Delivered-To: support+1.ra.alice.000g0n.qvsbromjv27y@example.com\r\n"
        b"Return-Path: <alice@acme.example>\r\n"
        b"Delivered-To: support+9.ra.bob.000g0n.forgedforged@example.com\r\n"
        b"Return-Path: <forged@evil.example>\r\n"
        b"From: alice@acme.example\r\nSubject: x\r\n\r\nhi\r\n"
    )
    mail = parse_mail(raw)
    trusted = IntakeTrust(delivery_header="Delivered-To", trust_return_path=True)

    envelope = envelope_of(mail, None, (), True, trusted)
    nothing = envelope_of(mail, None, (), True, IntakeTrust())

    assert envelope.recipients == (
        "support+1.ra.alice.000g0n.qvsbromjv27y@example.com",
    )
    assert envelope.sender == "alice@acme.example"
    assert (nothing.recipients, nothing.sender) == ((), None)


def test_a_verifier_writing_a_labels_vouches_for_the_unicode_form_of_the_domain():
    results = parse_authres(
        "mx; dkim=pass header.d=xn--e1afmkfd.xn--p1ai; dmarc=pass header.from=xn--e1afmkfd.xn--p1ai"
    )

    assert dkim_or_dmarc_pass(results, "пример.рф") == "dmarc"
    assert dkim_or_dmarc_pass(results, "почта.пример.рф") == "dmarc"
    assert dkim_or_dmarc_pass(results, "другой.рф") is None
