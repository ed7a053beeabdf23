"""Our own mail serialiser: what we write must read back exactly with the email package."""

from __future__ import annotations

import email
import email.policy

import pytest
from tierdesk.daemon.outgoing.mime import build_message, encode_words, fold, mailbox


def read(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def content(part: email.message.EmailMessage) -> str:
    """The decoded text; MIME's canonical line end is CRLF."""
    return part.get_content().replace("\r\n", "\n")


def test_plain_ascii_mail_reads_back():
    raw = build_message(
        [("From", "a@example.com"), ("Subject", "Hello")], "Line one\nLine two\n"
    )

    msg = read(raw)
    assert msg["Subject"] == "Hello"
    assert content(msg) == "Line one\nLine two\n"
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_russian_subject_name_and_body_read_back():
    subject = "[ACME #7] Не работает вход в личный кабинет, очень длинная тема письма"
    raw = build_message(
        [
            ("To", mailbox("Иван Петров", "ivan@example.org")),
            ("Subject", encode_words(subject)),
        ],
        "Здравствуйте!\n",
        "<p>Здравствуйте!</p>",
    )

    msg = read(raw)
    assert msg["Subject"] == subject
    assert msg["To"].addresses[0].display_name == "Иван Петров"
    assert content(msg.get_body(("plain",))) == "Здравствуйте!\n"
    assert content(msg.get_body(("html",))) == "<p>Здравствуйте!</p>"
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))


def test_display_names_with_specials_are_quoted():
    assert mailbox("Smith, John", "j@example.com") == '"Smith, John" <j@example.com>'
    assert mailbox("ACME Support", "s@example.com") == "ACME Support <s@example.com>"
    assert mailbox("", "s@example.com") == "s@example.com"
    msg = read(build_message([("From", mailbox('Say "hi"', "x@example.com"))], "x"))
    assert msg["From"].addresses[0].display_name == 'Say "hi"'


def test_long_references_are_folded():
    ids = " ".join(f"<message-{i}-with-a-long-id@mail.example.com>" for i in range(10))

    folded = fold(ids)

    assert all(len(line) <= 78 for line in folded.split("\r\n"))
    assert (
        read(build_message([("References", folded)], "x"))["References"].split()
        == ids.split()
    )


def test_a_utf8_address_is_written_as_utf8_with_its_display_name_still_encoded():
    headers = [("To", mailbox("Олег Смирнов", "олег@xn--e1afmkfd.xn--p1ai"))]

    raw = build_message(headers, "Здравствуйте!\n", utf8=True)

    to = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").split(b"\r\n")[0]
    assert to.startswith(b"To: =?utf-8?b?")
    assert to.endswith("<олег@xn--e1afmkfd.xn--p1ai>".encode())
    # the modern parser reads RFC 6532 headers from text, not from bytes
    msg = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
    [address] = msg["To"].addresses
    assert (address.display_name, address.addr_spec) == (
        "Олег Смирнов",
        "олег@xn--e1afmkfd.xn--p1ai",
    )
    assert content(msg) == "Здравствуйте!\n"


def test_a_utf8_address_is_refused_in_a_mail_that_must_be_ascii():
    headers = [("To", mailbox("", "олег@xn--e1afmkfd.xn--p1ai"))]

    with pytest.raises(UnicodeEncodeError):
        build_message(headers, "x")
