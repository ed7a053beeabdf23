"""detect_language: which language to answer a customer in."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tierdesk.parsers.language import detect_language
from tierdesk.parsers.parse import parse_mail
from tierdesk.parsers.parsed import ParsedMail

from tests.conftest import fixture_bytes


def mail(text: str = "", subject: str = "", content_language: str = "") -> ParsedMail:
    header = f"Content-Language: {content_language}\n" if content_language else ""
    parsed = parse_mail(f"{header}From: a@globex.example\n\n".encode())
    return replace(parsed, subject=subject, text=text)


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("koi8r_body.eml", "ru"),
        ("windows1251_body.eml", "ru"),
        ("plain.eml", "en"),
        ("iso88591_qp.eml", "en"),
        ("multipart_alternative.eml", "en"),
    ],
)
def test_real_messages_get_their_language(name: str, language: str) -> None:
    assert detect_language(parse_mail(fixture_bytes(name))) == language


@pytest.mark.parametrize(
    ("header", "language"), [("ru-RU", "ru"), ("RU", "ru"), ("en-GB", "en")]
)
def test_supported_content_language_wins(header: str, language: str) -> None:
    assert (
        detect_language(mail("Привет, не работает", content_language=header))
        == language
    )


def test_first_supported_language_of_a_list_is_taken() -> None:
    assert detect_language(mail("hello", content_language="de-DE, ru-RU, en")) == "ru"


def test_unsupported_content_language_falls_back_to_the_letters() -> None:
    assert (
        detect_language(mail("Не могу войти в кабинет", content_language="uk-UA"))
        == "ru"
    )


def test_mostly_cyrillic_text_is_russian() -> None:
    assert (
        detect_language(mail("Добрый день, заказ 4471 не доставлен. Order #4471"))
        == "ru"
    )


def test_cyrillic_subject_counts_too() -> None:
    assert detect_language(mail("", subject="Не могу войти")) == "ru"


def test_english_text_with_a_russian_signature_stays_english() -> None:
    text = "Hello, the export to CSV times out after thirty seconds.\n-- \nИван Петров"
    assert detect_language(mail(text)) == "en"


def test_only_the_beginning_of_a_long_text_is_looked_at() -> None:
    text = "The printer is offline again. " * 100 + "Привет " * 2000
    assert detect_language(mail(text)) == "en"


def test_default_when_nothing_tells() -> None:
    assert detect_language(mail("12345 !!!"), default="ru") == "ru"
    assert (
        detect_language(mail("Привет, мир"), supported=("en", "de"), default="de")
        == "de"
    )
