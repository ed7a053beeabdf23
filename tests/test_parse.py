"""parse_mail on the messages a helpdesk really receives, good and broken."""

from __future__ import annotations

import hashlib
import random
import sys
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from tierdesk.parsers.parse import parse_mail
from tierdesk.parsers.parsed import Address, ParsedMail

from tests.conftest import FIXTURES, fixture_bytes


def parse_fixture(name: str) -> ParsedMail:
    return parse_mail(fixture_bytes(name))


def assert_single_line(*values: str) -> None:
    for value in values:
        assert not any(c in value for c in "\r\n\x00\t"), repr(value)


def test_plain_message_gives_ids_addresses_subject_and_text() -> None:
    mail = parse_fixture("plain.eml")
    assert mail.message_id == "CAF3x9Q1oTmN4bZ@mail.globex.example"
    assert not mail.message_id_synthesized
    assert mail.subject == "Cannot log in to the portal"
    assert mail.from_ == Address("Anna Berg", "anna.berg@globex.example")
    assert mail.to == [Address("Acme Support", "support@acme.example")]
    assert mail.cc == [] and mail.reply_to == []
    assert mail.text.startswith("Hello,\n\nsince this morning none of us can log in")
    assert mail.html is None
    assert mail.content_type == "text/plain"
    assert mail.attachments == [] and mail.defects == []


def test_date_is_an_aware_datetime() -> None:
    mail = parse_fixture("plain.eml")
    assert mail.date == datetime(2024, 3, 12, 8, 13, 58, tzinfo=UTC)
    assert mail.date is not None and mail.date.tzinfo is not None


def test_size_and_sha256_describe_the_raw_bytes() -> None:
    raw = fixture_bytes("plain.eml")
    mail = parse_mail(raw)
    assert mail.size == len(raw)
    assert mail.sha256 == hashlib.sha256(raw).hexdigest()


def test_headers_are_lower_cased_decoded_and_first_value_wins() -> None:
    raw = (
        b"From: a@globex.example\nSubject: =?utf-8?q?Caf=C3=A9?=\n"
        b"X-Mailer: First\nX-Mailer: Second\n"
        b"X-Note: =?utf-8?q?r=C3=A9sum=C3=A9?=\nReceived: a\n b\n\nhi\n"
    )
    mail = parse_mail(raw)
    assert mail.headers["subject"] == "Café"
    assert mail.headers["x-mailer"] == "First"
    assert mail.headers["x-note"] == "résumé"
    assert mail.headers["received"] == "a b"
    assert mail.header("X-MAILER") == "First" and mail.header("x-missing") == ""


def test_multipart_alternative_keeps_text_and_html() -> None:
    mail = parse_fixture("multipart_alternative.eml")
    assert mail.content_type == "multipart/alternative"
    assert "we were billed €1,250 instead of €950." in mail.text
    assert "\r" not in mail.text
    assert mail.html is not None and "<b>INV-2024-117</b>" in mail.html
    assert mail.from_ == Address("Priya Nair", "priya.nair@initech.example")


def test_reply_headers_give_bare_message_ids() -> None:
    mail = parse_fixture("multipart_alternative.eml")
    assert mail.in_reply_to == ["ack.17.a1b2c3@acme.example"]
    assert mail.references == ["first.17@initech.example", "ack.17.a1b2c3@acme.example"]


def test_koi8r_body_is_decoded() -> None:
    mail = parse_fixture("koi8r_body.eml")
    assert "Не могу войти в личный кабинет" in mail.text
    assert mail.subject == "Не могу войти"
    assert mail.from_ == Address("Иван Петров", "ivan.petrov@stark.example")
    assert "\ufffd" not in mail.text and mail.defects == []


def test_windows1251_body_is_decoded() -> None:
    mail = parse_fixture("windows1251_body.eml")
    assert "Заказ 4471 до сих пор не доставлен" in mail.text
    assert mail.subject == "Заказ 4471 не доставлен"
    assert mail.from_ is not None and mail.from_.name == "Ольга Смирнова"


def test_iso_8859_1_quoted_printable_body_is_decoded() -> None:
    mail = parse_fixture("iso88591_qp.eml")
    assert "können sich unsere Mitarbeiter" in mail.text
    assert "C'est très urgent pour la clôture du mois." in mail.text
    assert mail.subject == "Anmeldung gestört"
    assert mail.from_ is not None and mail.from_.name == "Jürgen Müller"


def test_html_only_mail_gets_its_text_from_the_html() -> None:
    mail = parse_fixture("html_only.eml")
    assert mail.html is not None and "<strong>5512</strong>" in mail.html
    assert mail.text.startswith("Hello Support,\n\nmy order 5512 has not arrived.")
    assert "- the tracking page (https://acme.example/track?o=5512)" in mail.text
    assert "- calling & emailing the courier" in mail.text
    assert "track(" not in mail.text and "font-family" not in mail.text


def test_pdf_attachment_keeps_its_bytes_and_unicode_filename() -> None:
    mail = parse_fixture("pdf_attachment.eml")
    assert mail.text.startswith("Hi, the attached invoice carries our old VAT number.")
    [pdf] = mail.attachments
    assert pdf.filename == "Rechnung März.pdf"
    assert pdf.content_type == "application/pdf"
    assert pdf.data.startswith(b"%PDF-1.4") and pdf.data.endswith(b"%%EOF\n")
    assert not pdf.inline and pdf.content_id is None


def test_inline_image_is_marked_inline_with_its_content_id() -> None:
    mail = parse_fixture("inline_image.eml")
    [image] = mail.attachments
    assert image.inline
    assert image.content_id == "screenshot.1@umbrella.example"
    assert image.content_type == "image/png"
    assert image.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.filename == "attachment-1.png"
    assert mail.html is not None and "cid:screenshot.1@umbrella.example" in mail.html


def test_nameless_attachment_gets_the_same_name_on_every_parse() -> None:
    # mail-parser itself would invent a random ten-letter name here.
    raw = (
        b"From: a@globex.example\nMessage-ID: <n@globex.example>\n"
        b"Content-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\n"
        b"see log\n--b\nContent-Type: text/plain\nContent-Disposition: attachment\n\n"
        b"line 1\n--b--\n"
    )
    names = {parse_mail(raw).attachments[0].filename for _ in range(3)}
    assert names == {"attachment-1.txt"}


def test_hostile_attachment_filename_is_sanitised() -> None:
    raw = (
        b"From: a@globex.example\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
        b"Content-Type: text/plain\n\nhi\n--b\nContent-Type: application/octet-stream\n"
        b'Content-Disposition: attachment; filename="../../etc/\\x01passwd"\n'
        b"Content-Transfer-Encoding: base64\n\nAAEC\n--b--\n"
    )
    [attachment] = parse_mail(raw).attachments
    assert "/" not in attachment.filename and not attachment.filename.startswith(".")
    assert attachment.data == b"\x00\x01\x02"


def test_unknown_charset_is_decoded_and_noted() -> None:
    mail = parse_fixture("unknown_charset.eml")
    assert "naïve retries don’t help" in mail.text
    assert any("x-mac-klingon" in d for d in mail.defects)


def test_missing_charset_with_cyrillic_8bit_bytes_is_guessed() -> None:
    mail = parse_fixture("missing_charset_8bit.eml")
    assert mail.text == "Приложение падает при запуске, версия 3.2.\n"
    assert any("decoded as windows-1251" in d for d in mail.defects)


def test_koi8r_bytes_without_charset_are_told_apart_from_windows_1251() -> None:
    body = "Не могу войти в личный кабинет уже второй день.\n".encode("koi8-r")
    mail = parse_mail(b"From: a@stark.example\nSubject: x\n\n" + body)
    assert mail.text.startswith("Не могу войти в личный кабинет")


def test_broken_mime_without_closing_boundary_still_gives_text_and_attachment() -> None:
    mail = parse_fixture("broken_mime_missing_boundary.eml")
    assert mail.text.startswith("The sync has been stuck since yesterday evening.")
    [log] = mail.attachments
    assert log.filename == "sync.log" and b"sync worker timed out" in log.data
    assert any("CloseBoundaryNotFoundDefect" in d for d in mail.defects)


def test_raw_utf8_subject_is_decoded_as_utf8() -> None:
    mail = parse_fixture("raw_utf8_subject.eml")
    assert mail.subject == "Problème de connexion urgent 😀"
    assert mail.defects == []


def test_raw_cp1252_subject_is_decoded_as_windows_1252_and_noted() -> None:
    mail = parse_fixture("raw_cp1252_subject.eml")
    assert mail.subject == "Problème de facturation – mars"
    assert mail.from_ == Address("José Nuñez", "jose.nunez@prestige.example")
    assert any(d.startswith("Subject: raw 8-bit") for d in mail.defects)


def test_raw_8bit_subject_is_decoded_with_the_body_charset() -> None:
    subject = "Заказ не доставлен".encode("koi8-r")
    raw = (
        b"From: a@stark.example\nSubject: " + subject + b"\n"
        b"Content-Type: text/plain; charset=koi8-r\n\nhi\n"
    )
    mail = parse_mail(raw)
    assert mail.subject == "Заказ не доставлен"
    assert any("decoded as koi8-r" in d for d in mail.defects)


def test_missing_message_id_is_synthesized_from_the_content_hash() -> None:
    raw = fixture_bytes("no_message_id.eml")
    mail = parse_mail(raw)
    digest = hashlib.sha256(raw).hexdigest()
    assert mail.message_id == f"{digest[:32]}@missing-message-id.tierdesk.invalid"
    assert mail.message_id_synthesized
    assert parse_mail(raw).message_id == mail.message_id
    assert any("Message-ID missing" in d for d in mail.defects)


def test_bare_message_id_without_brackets_is_accepted() -> None:
    mail = parse_mail(
        b"From: a@globex.example\nMessage-ID: 1234.5678@globex.example\n\nhi\n"
    )
    assert mail.message_id == "1234.5678@globex.example"
    assert not mail.message_id_synthesized


def test_utf8_message_id_is_kept_and_raw_latin1_one_is_replaced() -> None:
    utf8 = parse_mail("Message-ID: <straße.1@müller.example>\n\nhi\n".encode())
    assert utf8.message_id == "straße.1@müller.example"
    latin1 = parse_mail(b"Message-ID: <stra\xdfe.1@example>\n\nhi\n")
    assert latin1.message_id_synthesized


def test_junk_around_reply_ids_is_ignored() -> None:
    raw = (
        b"From: a@globex.example\nMessage-ID: <m1@globex.example>\n"
        b"In-Reply-To: <ack.1@acme.example> (Anna's message of Mon, 1 Jan)\n"
        b"References: <a@x.example>\n\t<b@x.example> junk <a@x.example>\n"
        b" <not an id>\n\nhi\n"
    )
    mail = parse_mail(raw)
    assert mail.in_reply_to == ["ack.1@acme.example"]
    assert mail.references == ["a@x.example", "b@x.example"]


def test_bad_date_gives_none_and_a_defect() -> None:
    mail = parse_mail(b"From: a@globex.example\nDate: yesterday-ish\n\nhi\n")
    assert mail.date is None
    assert any("date" in d.lower() for d in mail.defects)


def test_crlf_in_encoded_subject_comes_out_as_one_line() -> None:
    mail = parse_fixture("header_injection_subject.eml")
    assert mail.subject == "Hi Bcc: victim@evil.example"
    assert_single_line(mail.subject, mail.headers["subject"])


def test_crlf_in_encoded_display_name_comes_out_as_one_line() -> None:
    mail = parse_fixture("header_injection_subject.eml")
    assert mail.from_ == Address(
        "Mallory Reply-To: x@evil.example", "mallory@evil.example"
    )
    assert mail.reply_to == []  # the injected Reply-To never became a header
    assert_single_line(mail.from_.name, mail.headers["from"])


CRASH_FIXTURES = {
    # fixture: (header policy.default chokes on, exception type on 3.11.7)
    "policy_default_crash_truncated_domain.eml": ("To", IndexError),
    "policy_default_crash_group_double_semicolon.eml": ("Cc", AttributeError),
    "policy_default_crash_unclosed_domain_literal.eml": ("From", AttributeError),
    "policy_default_crash_empty_message_id.eml": ("Message-ID", IndexError),
    "policy_default_crash_crlf_in_display_name.eml": ("From", ValueError),
    "policy_default_crash_dangling_angle.eml": ("Cc", IndexError),
}


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="crash shapes of 3.11")
@pytest.mark.parametrize(
    ("name", "header", "error"), [(k, *v) for k, v in CRASH_FIXTURES.items()]
)
def test_policy_default_really_crashes_on_the_fixture(
    name: str, header: str, error: type[Exception]
) -> None:
    message = message_from_bytes(fixture_bytes(name), policy=policy.default)
    with pytest.raises(error):
        str(message[header])


@pytest.mark.parametrize("name", sorted(CRASH_FIXTURES))
def test_policy_default_crash_shapes_still_parse(name: str) -> None:
    mail = parse_fixture(name)
    assert mail.text.strip()
    assert mail.to[0] == Address("", "support@acme.example")
    assert mail.defects


def test_crash_shapes_keep_the_usable_addresses() -> None:
    assert parse_fixture("policy_default_crash_group_double_semicolon.eml").cc == [
        Address("", "alice@initech.example"),
        Address("", "bob@initech.example"),
    ]
    assert parse_fixture("policy_default_crash_dangling_angle.eml").cc == [
        Address("", "finance@wonka.example")
    ]
    literal = parse_fixture("policy_default_crash_unclosed_domain_literal.eml")
    assert literal.from_ == Address("", "nagios@[10.0.0.12]")
    empty_id = parse_fixture("policy_default_crash_empty_message_id.eml")
    assert empty_id.message_id_synthesized
    crlf = parse_fixture("policy_default_crash_crlf_in_display_name.eml")
    assert crlf.from_ == Address(
        "Support Bcc: victim@evil.example", "attacker@evil.example"
    )


def nested_multipart(depth: int) -> bytes:
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i)
        for i in range(depth)
    )
    tail = b"".join(b"\n--b%d--\n" % i for i in reversed(range(depth)))
    return (
        b"From: Deep Thought <deep@globex.example>\nTo: support@acme.example\n"
        b"Subject: deep\nMessage-ID: <deep.1@globex.example>\nMIME-Version: 1.0\n"
        + head
        + b"Content-Type: text/plain\n\nhello\n"
        + tail
    )


def test_message_nested_2000_levels_deep_still_gives_its_headers() -> None:
    mail = parse_mail(nested_multipart(2000))
    assert mail.subject == "deep"
    assert mail.message_id == "deep.1@globex.example"
    assert mail.from_ == Address("Deep Thought", "deep@globex.example")
    assert any("nesting too deep" in d for d in mail.defects)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe",
        b"just some text without headers",
        b"\n\n\n",
        b"Subject: only a header",
        b"From: =?utf-8?b?Q?= <a@b.example>\n\nmail-parser raises on this name\n",
        b'Content-Type: text/plain; charset="utf-8\x00"\n\nh\xc3\xa9\n',
        b"Content-Type: multipart/mixed\n\n--x\n",
        b"From: " + b"<" * 5000 + b"\n\n",
        b"Message-ID: <" + b"a" * 5000 + b"@x>\n\n",
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    mail = parse_mail(raw)
    assert mail.message_id and mail.size == len(raw)


def test_a_nul_in_the_charset_name_costs_neither_the_text_nor_the_attachments() -> None:
    raw = (
        b"From: a@b.example\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
        b'Content-Type: text/plain; charset="utf-8\x00"\n\nh\xc3\xa9llo\n--b\n'
        b"Content-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\n"
        b"JVBERg==\n--b--\n"
    )
    mail = parse_mail(raw)
    assert mail.text.strip() == "héllo"
    assert [(a.filename, a.data) for a in mail.attachments] == [("a.pdf", b"%PDF")]


def test_randomly_damaged_fixtures_never_raise() -> None:
    seeds = [path.read_bytes() for path in sorted(Path(FIXTURES).glob("*.eml"))]
    junk = [b"\xff", b"\x00", b"=?", b"?=", b"<", b">", b'"', b"\\", b";", b":", b"\n"]
    junk += [b"=?utf-8?q?a=0D=0A?=", b"=?x?b?!!?=", b"\xe8", b"--", b"[", b"@"]
    rnd = random.Random(20240101)
    for _ in range(300):
        raw = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 10)):
            pos = rnd.randrange(len(raw) + 1)
            if rnd.random() < 0.6:
                raw[pos:pos] = rnd.choice(junk)
            else:
                del raw[pos : pos + rnd.randint(1, 20)]
        mail = parse_mail(bytes(raw))
        assert_single_line(mail.subject, *(a.name for a in mail.to))
        for value in (mail.subject, mail.text, *mail.headers.values(), *mail.defects):
            value.encode("utf-8")  # no lone surrogates leak out
        assert not any(d.startswith("parser failed") for d in mail.defects)
