"""What a message costs to parse is bounded: caps on headers and parts, linear decoding.

Each cap that trips leaves a defect and the message still becomes a ticket
with what fits. No test here times anything: the figures are in
bench/big_message.py.
"""

from __future__ import annotations

import base64
import random
from email import message_from_bytes
from email.header import decode_header
from email.policy import compat32

import pytest
from tierdesk.daemon.config import PipelineConfig, SmtpListenConfig
from tierdesk.daemon.config_load import load_config
from tierdesk.parsers.headers import decode_header_value, single_line, unfold
from tierdesk.parsers.mime_parts import decoded_payload
from tierdesk.parsers.parse import DEFAULT_LIMITS, parse_mail
from tierdesk.parsers.parsed import ParseLimits

from tests.conftest import fixture_bytes

HEAD = (
    b"From: Anna Berg <anna@globex.example>\n"
    b"To: support@acme.example\n"
    b"Subject: Printer offline\n"
    b"Message-ID: <limits.1@globex.example>\n"
    b"MIME-Version: 1.0\n"
)


def with_attachments(*sizes: int, text: bytes = b"See the files.\n") -> bytes:
    parts = [b"Content-Type: text/plain; charset=utf-8\n\n" + text]
    for i, size in enumerate(sizes):
        data = base64.encodebytes(bytes([i % 256]) * size)
        parts.append(
            b"Content-Type: application/octet-stream\n"
            b'Content-Disposition: attachment; filename="file%d.bin"\n'
            b"Content-Transfer-Encoding: base64\n\n" % i + data
        )
    body = b"".join(b"--b\n" + p + b"\n" for p in parts) + b"--b--\n"
    return HEAD + b'Content-Type: multipart/mixed; boundary="b"\n\n' + body


def nested(depth: int) -> bytes:
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i)
        for i in range(depth)
    )
    tail = b"".join(b"\n--b%d--\n" % i for i in reversed(range(depth)))
    return HEAD + head + b"Content-Type: text/plain\n\nat the bottom\n" + tail


def encoded_words(count: int) -> tuple[bytes, str]:
    """`count` encoded words, B and Q alternating, folded; and the text they encode."""
    words, text = [], []
    for i in range(count):
        if i % 2:
            plain = f"Слово{i} "
            words.append(b"=?utf-8?b?" + base64.b64encode(plain.encode()) + b"?=")
        else:
            plain = f"word {i} "
            words.append(b"=?utf-8?q?" + plain.replace(" ", "_").encode() + b"?=")
        text.append(plain)
    return b"\n ".join(words), "".join(text)


def test_parse_mail_alone_and_the_default_config_apply_the_same_caps():
    assert PipelineConfig().parse_limits == DEFAULT_LIMITS
    assert DEFAULT_LIMITS.decoded_size == SmtpListenConfig().max_message_size


def test_the_caps_come_from_the_pipeline_section_of_the_config(tmp_path):
    path = tmp_path / "tierdesk.yaml"
    path.write_text(
        "pipeline:\n  max_header_fields: 200\n  max_header_length: 8KB\n"
        "  max_mime_parts: 100\n  max_mime_depth: 10\n  max_decoded_size: 10MB\n"
    )

    limits = load_config(path, environ={}).pipeline.parse_limits

    assert limits == ParseLimits(200, 8 * 1024, 100, 10, 10 * 1024 * 1024)


def test_a_message_with_too_many_header_fields_keeps_the_first_ones():
    filler = b"".join(b"X-Filler-%d: value %d\n" % (i, i) for i in range(5000))
    raw = HEAD + filler + b"X-Late: never read\n\nHello\n"

    mail = parse_mail(raw, ParseLimits(header_fields=100))

    assert mail.subject == "Printer offline"
    assert mail.header("x-filler-94") == "value 94"
    assert mail.header("x-late") == ""
    assert mail.text == "Hello\n"
    assert "5006 header fields; the first 100 read" in mail.defects


def test_a_subject_of_a_megabyte_is_cut_to_the_cap():
    raw = HEAD.replace(b"Printer offline", b"x" * 2**20) + b"\nHello\n"

    mail = parse_mail(raw, ParseLimits(header_length=1000))

    assert mail.subject == "x" * 1000
    assert mail.text == "Hello\n"
    assert any("over 1000 characters cut: Subject (1048576)" in d for d in mail.defects)


def test_a_long_subject_is_cut_between_words_not_inside_an_encoded_word():
    words, _ = encoded_words(2000)
    raw = HEAD.replace(b"Printer offline", words) + b"\nHello\n"

    mail = parse_mail(raw, ParseLimits(header_length=5000))

    assert "=?" not in mail.subject and "?=" not in mail.subject
    assert mail.subject.startswith("word 0 Слово1 word 2")


def test_a_to_of_twenty_thousand_recipients_keeps_whole_addresses_up_to_the_cap():
    people = b",\n ".join(b"person%d@customer.example" % i for i in range(20_000))
    raw = HEAD.replace(b"To: support@acme.example", b"To: " + people) + b"\nHi\n"

    mail = parse_mail(raw, ParseLimits(header_length=4096))

    emails = [a.email for a in mail.to]
    assert 100 < len(emails) < 20_000
    assert emails == [f"person{i}@customer.example" for i in range(len(emails))]
    assert any(d.startswith("1 header field(s) over 4096") for d in mail.defects)


def test_a_thousand_attachments_past_the_parts_cap_are_left_out_with_a_defect():
    raw = with_attachments(*([100] * 1000))

    mail = parse_mail(raw, ParseLimits(parts=50))

    # the message and its text part count: 48 attachments fit in 50 parts
    assert len(mail.attachments) == 48
    assert mail.text == "See the files.\n"
    assert "more than 50 MIME parts; the rest left out" in mail.defects


def test_parts_nested_deeper_than_the_cap_are_left_out_and_the_message_kept():
    mail = parse_mail(nested(60), ParseLimits(depth=20))

    assert mail.subject == "Printer offline"
    assert mail.text == ""  # the only text sits 60 levels down
    assert any("nesting deeper than 20 levels" in d for d in mail.defects)


def test_the_text_at_the_nesting_cap_is_still_read():
    mail = parse_mail(nested(20), ParseLimits(depth=20))

    assert mail.text.strip() == "at the bottom"
    assert not any("nesting" in d for d in mail.defects)


def test_attachments_past_the_decoded_size_cap_are_left_out_by_name():
    raw = with_attachments(600_000, 600_000, 100)

    mail = parse_mail(raw, ParseLimits(decoded_size=1_000_000))

    assert [a.filename for a in mail.attachments] == ["file0.bin", "file2.bin"]
    assert mail.text == "See the files.\n"
    assert any(
        "1 attachment(s) left out past the decoded size limit (1000000 bytes)" in d
        and "file1.bin (600000 bytes)" in d
        for d in mail.defects
    )


def test_a_text_past_the_decoded_size_cap_is_cut_there():
    raw = with_attachments(text=b"line of text\n" * 10_000)

    mail = parse_mail(raw, ParseLimits(decoded_size=1300))

    assert mail.text == "line of text\n" * 100
    assert any("cut at the decoded size limit" in d for d in mail.defects)


def test_cap_defects_survive_when_the_message_has_many_other_defects():
    many = (
        HEAD.replace(b"MIME-Version: 1.0\n", b"")
        + b"".join(b"X-Bad-%d: =?x-unknown?q?=FF?=\xff\n" % i for i in range(300))
        + b"\nHi\n"
    )

    mail = parse_mail(many, ParseLimits(header_fields=200))

    assert len(mail.defects) == 50  # raw bytes in each field: a defect each
    assert mail.defects[0] == "304 header fields; the first 200 read"


def test_forty_thousand_encoded_words_decode_to_the_text_they_encode():
    words, text = encoded_words(40_000)

    subject, notes = decode_header_value(words.decode(), "Subject")

    assert subject == text.strip()
    assert notes == ["Subject: 1194424 characters; decoded word by word"]


@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?q?Caf=C3=A9?= =?utf-8?b?w6k=?=  plain =?iso-8859-1?q?=E9t=E9?=",
        "a =?utf-8?b?0J/RgNC4?=\n =?utf-8?b?0LLQtdGC?= b",
        "=?utf-8?q?=D0?= =?utf-8?q?=9F?=",  # one character split across two words
        "=?koi8-r?b?8NLJ18XU?= =?windows-1251?b?7+Dw7uv8?=",
        "=?UTF-8?Q?Hi_there?=",
        "no encoded words at all",
        "=?utf-8?b?w6k?= missing padding",
    ],
)
def test_long_headers_decode_as_the_standard_library_decodes_them(value):
    expected = "".join(
        part.decode(charset or "ascii") if isinstance(part, bytes) else part
        for part, charset in decode_header(value)
    )
    padded = value + " " + "x" * 9000  # long enough for the word-by-word decoder

    decoded, _ = decode_header_value(padded, "Subject")

    assert decoded == single_line(unfold(expected)) + " " + "x" * 9000


def test_an_encoded_word_that_does_not_decode_stays_as_written():
    value = "=?utf-8?b?!!!?= and =?utf-8?q?fine?= " + "y" * 9000

    decoded, _ = decode_header_value(value, "Subject")

    assert decoded.startswith("=?utf-8?b?!!!?= and fine ")


BASE64_BODIES = [
    b"QUJD\nREVG\n",
    b"QUJDRA==\n",
    b"QUJDRA\n",  # padding left off
    b"QUJD\nR!EVG\n",  # a stray character
    b"QUJD====\n",
    b"QU=JD\n",
    b"\n",
    b"QUJD\r\nREVG\r\n",
    b"QUJD\xff\nREVG\n",  # a raw byte
]


@pytest.mark.parametrize("body", BASE64_BODIES)
def test_base64_bodies_decode_as_the_standard_library_decodes_them(body):
    raw = (
        b"Content-Type: application/octet-stream\n"
        b"Content-Transfer-Encoding: base64\n\n" + body
    )
    ours, theirs = (
        message_from_bytes(raw, policy=compat32),
        message_from_bytes(raw, policy=compat32),
    )

    assert decoded_payload(ours) == theirs.get_payload(decode=True)
    assert [type(d) for d in ours.defects] == [type(d) for d in theirs.defects]


def test_a_random_attachment_decodes_to_its_bytes():
    data = random.Random(7).randbytes(300_000)
    raw = (
        HEAD + b"Content-Type: application/pdf; name=a.pdf\n"
        b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(data)
    )

    [attachment] = parse_mail(raw).attachments

    assert attachment.data == data


def test_every_fixture_parses_the_same_with_the_default_caps_as_with_none():
    huge = ParseLimits(10**9, 10**9, 10**9, 10**9, 10**12)
    for name in ["pdf_attachment.eml", "inline_image.eml", "multipart_alternative.eml"]:
        raw = fixture_bytes(name)
        assert parse_mail(raw) == parse_mail(raw, huge)
