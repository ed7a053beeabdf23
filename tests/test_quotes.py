"""strip_quoted: the agent's new text without history, signature or mobile footer."""

from __future__ import annotations

import time

import pytest
from tierdesk.parsers.quotes import strip_quoted

ANSWER = "Hi Alice,\n\nthe printer driver 5.1 fixes this.\n\nBest,\nBob"


def test_gmail_reply_is_cut_at_the_attribution() -> None:
    body = (
        f"{ANSWER}\n\n"
        "On Mon, Nov 2, 2026 at 9:14\u202fAM Alice Example <alice@example.com> wrote:\n"
        "\n"
        "> The printer on floor 3 is offline again.\n"
        ">\n"
        "> Alice\n"
    )
    assert strip_quoted(body) == ANSWER


def test_gmail_attribution_wrapped_over_two_lines_is_cut() -> None:
    body = (
        f"{ANSWER}\n\n"
        "On Mon, 2 Nov 2026 at 09:14, Alice Example <\n"
        "alice@example.com> wrote:\n"
        "> The printer on floor 3 is offline again.\n"
    )
    assert strip_quoted(body) == ANSWER


def test_attribution_wrapped_before_the_address_is_cut() -> None:
    body = (
        f"{ANSWER}\n\n"
        "On Mon, 2 Nov 2026 at 09:14, Alice Example\n"
        "<alice@example.com> wrote:\n"
        "The printer on floor 3 is offline again.\n"
    )
    assert strip_quoted(body) == ANSWER


def test_apple_mail_reply_is_cut() -> None:
    body = (
        f"{ANSWER}\n\n"
        "> On 2 Nov 2026, at 09:14, Alice Example <alice@example.com> wrote:\n"
        ">\n"
        "> The printer on floor 3 is offline again.\n"
    )
    assert strip_quoted(body) == ANSWER
    body = f"{ANSWER}\n\nOn 2. Nov 2026, at 09:14, Alice Example wrote:\n\n> Hi\n"
    assert strip_quoted(body) == ANSWER


def test_thunderbird_reply_below_signature_is_cut() -> None:
    body = (
        f"{ANSWER}\n\n"
        "-- \n"
        "Bob Builder | ACME Support | +49 30 1234567\n\n"
        "On 11/2/26 09:14, Alice Example wrote:\n"
        "> The printer on floor 3 is offline again.\n"
    )
    assert strip_quoted(body) == ANSWER


def test_german_attribution_is_cut() -> None:
    for header in (
        "Am 02.11.2026 um 09:14 schrieb Alice Example <alice@example.com>:",
        "Am Mo., 2. Nov. 2026 um 09:14 Uhr schrieb Alice Example <alice@example.com>:",
        "Alice Example <alice@example.com> schrieb am 02.11.2026 09:14:",
    ):
        body = f"Hallo Alice,\n\nist erledigt.\n\n{header}\n> Der Drucker geht nicht.\n"
        assert strip_quoted(body) == "Hallo Alice,\n\nist erledigt.", header


def test_french_attribution_is_cut() -> None:
    body = (
        "Bonjour Alice,\n\nc'est corrigé.\n\n"
        "Le lun. 2 nov. 2026 à 09:14, Alice Example <alice@example.com> a\u00a0écrit\u00a0:\n"
        "> L'imprimante ne marche pas.\n"
    )
    assert strip_quoted(body) == "Bonjour Alice,\n\nc'est corrigé."


@pytest.mark.parametrize(
    "header",
    [
        "02.11.2026 9:14, Алиса Пример пишет:",
        "2 ноября 2026 г., в 09:14, Алиса Пример <alice@example.ru> написал(а):",
        "Алиса Пример написала:",
        # Yandex, Gmail in Russian, Mail.ru: no verb at all.
        '02.11.2026, 09:14, "Алиса Пример" <alice@example.ru>:',
        "пн, 2 нояб. 2026 г. в 09:14, Алиса Пример <alice@example.ru>:",
        "Понедельник, 2 ноября 2026, 9:14 +03:00 от Алиса Пример <alice@example.ru>:",
    ],
)
def test_russian_attribution_is_cut(header: str) -> None:
    body = f"Добрый день!\n\nПринтер починили.\n\n{header}\n> Не работает принтер.\n"
    assert strip_quoted(body) == "Добрый день!\n\nПринтер починили."


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-------- Original Message --------",
        "-----Ursprüngliche Nachricht-----",
        "----- Исходное сообщение -----",
    ],
)
def test_original_message_separator_is_cut(separator: str) -> None:
    body = f"{ANSWER}\n\n{separator}\nFrom: Alice\nThe printer is offline.\n"
    assert strip_quoted(body) == ANSWER


def test_outlook_english_header_block_is_cut_with_its_rule() -> None:
    body = (
        f"{ANSWER}\r\n\r\n"
        "________________________________\r\n"
        "From: Alice Example <alice@example.com>\r\n"
        "Sent: Monday, November 2, 2026 9:14 AM\r\n"
        "To: ACME Support <support@acme.example>\r\n"
        "Subject: [ACME #123] Printer offline\r\n\r\n"
        "The printer on floor 3 is offline again.\r\n"
    )
    assert strip_quoted(body) == ANSWER


def test_outlook_german_header_block_is_cut() -> None:
    body = (
        "Hallo Alice,\n\nist erledigt.\n\n"
        "Von: Alice Example <alice@example.com>\n"
        "Gesendet: Montag, 2. November 2026 09:14\n"
        "An: ACME Support <support@acme.example>\n"
        "Betreff: Drucker offline\n\n"
        "Der Drucker geht nicht.\n"
    )
    assert strip_quoted(body) == "Hallo Alice,\n\nist erledigt."


def test_outlook_russian_header_block_is_cut() -> None:
    body = (
        "Добрый день!\n\nПринтер починили.\n\n"
        "С уважением,\nБорис\n\n"
        "От: Алиса Пример <alice@example.ru>\n"
        "Отправлено: 2 ноября 2026 г. 9:14\n"
        "Кому: ACME Support <support@acme.example>\n"
        "Тема: Не работает принтер\n\n"
        "Не работает принтер на третьем этаже.\n"
    )
    assert strip_quoted(body) == (
        "Добрый день!\n\nПринтер починили.\n\nС уважением,\nБорис"
    )


def test_outlook_block_rendered_from_html_with_bold_names_and_blanks_is_cut() -> None:
    body = (
        f"{ANSWER}\n\n"
        "*From:* Alice Example <alice@example.com>\n\n"
        "*Sent:* Monday, November 2, 2026 9:14 AM\n\n"
        "*To:* ACME Support\n\n"
        "Old text\n"
    )
    assert strip_quoted(body) == ANSWER


def test_a_from_line_in_prose_is_kept() -> None:
    body = "From: the warehouse, we got 3 boxes.\nTo be sure, I counted twice."
    assert strip_quoted(body) == body


def test_trailing_quote_block_with_blank_lines_is_dropped() -> None:
    body = f"{ANSWER}\n\n> line one\n>\n\n> line two\n> \n\n"
    assert strip_quoted(body) == ANSWER


def test_trailing_quote_takes_an_undated_attribution_with_it() -> None:
    assert strip_quoted(f"{ANSWER}\n\nAlice wrote:\n> Hi\n") == ANSWER


def test_interleaved_answers_are_kept_and_the_rest_of_the_quote_dropped() -> None:
    body = (
        "On Mon, 2 Nov 2026 at 09:14, Alice Example <alice@example.com> wrote:\n"
        "> 1. Is the printer on the network?\n"
        "\n"
        "Yes, it is on VLAN 20.\n"
        "\n"
        "> 2. Which driver do you use?\n"
        "\n"
        "Version 5.1.\n"
        "\n"
        "> Thanks,\n"
        "> Alice\n"
        "\n"
        "-- \n"
        "Bob\n"
    )
    assert strip_quoted(body) == (
        "On Mon, 2 Nov 2026 at 09:14, Alice Example <alice@example.com> wrote:\n"
        "> 1. Is the printer on the network?\n"
        "\n"
        "Yes, it is on VLAN 20.\n"
        "\n"
        "> 2. Which driver do you use?\n"
        "\n"
        "Version 5.1."
    )


def test_interleaved_without_attribution_keeps_the_answers() -> None:
    body = "> Is it on?\nYes.\n> Which driver?\nVersion 5.1.\n> Thanks\n"
    assert strip_quoted(body) == "> Is it on?\nYes.\n> Which driver?\nVersion 5.1."


def test_history_rendered_from_html_is_cut_even_if_it_quotes_older_mail() -> None:
    body = (
        f"{ANSWER}\n\n"
        "On Mon, 2 Nov 2026 at 09:14, Alice Example <alice@example.com> wrote:\n"
        "It is still broken.\n"
        "> older quote\n"
        "And here is more of Alice's mail.\n"
    )
    assert strip_quoted(body) == ANSWER


@pytest.mark.parametrize("delimiter", ["-- ", "--"])
def test_signature_and_everything_after_is_dropped(delimiter: str) -> None:
    body = f"{ANSWER}\n{delimiter}\nBob Builder\nACME Support\n"
    assert strip_quoted(body) == ANSWER


def test_dashes_that_are_not_a_signature_delimiter_are_kept() -> None:
    body = "Steps:\n--- first\n---\nthen -- this"
    assert strip_quoted(body) == body


def test_reply_that_only_has_a_signature_is_kept_whole() -> None:
    # Nothing would remain: the original is better than an empty reply.
    assert strip_quoted("\n-- \nBob Builder\nACME Support\n") == (
        "--\nBob Builder\nACME Support"
    )


@pytest.mark.parametrize(
    "footer",
    [
        "Sent from my iPhone",
        "Sent from my Samsung Galaxy smartphone.",
        "Get Outlook for Android<https://aka.ms/ghei36>",
        "Get Outlook for iOS",
        "Von meinem iPhone gesendet",
        "Отправлено с iPhone",
        "Отправлено из мобильной Почты Mail.ru",
        "Отправлено из мобильной Яндекс.Почты",
    ],
)
def test_mobile_footer_and_what_follows_are_dropped(footer: str) -> None:
    body = (
        f"Fixed, thanks!\n\n{footer}\n\n> On 2 Nov 2026, at 09:14, Alice wrote:\n> Hi"
    )
    assert strip_quoted(body) == "Fixed, thanks!"


def test_iphone_top_posted_reply() -> None:
    body = (
        "Will check tomorrow\n\n"
        "Sent from my iPhone\n\n"
        "> On 2 Nov 2026, at 09:14, Alice Example <alice@example.com> wrote:\n"
        "> \n"
        "> Printer offline\n"
    )
    assert strip_quoted(body) == "Will check tomorrow"


def test_mail_ru_reply_in_russian() -> None:
    body = (
        "Здравствуйте!\n\nЗаказ отправлен сегодня.\n\n--\nБорис, поддержка ACME\n\n"
        "Отправлено из мобильной Почты Mail.ru\n\n"
        "Понедельник, 2 ноября 2026, 9:14 +03:00 от Алиса <alice@mail.ru>:\n"
        ">Где мой заказ?\n"
    )
    assert strip_quoted(body) == "Здравствуйте!\n\nЗаказ отправлен сегодня."


def test_yandex_reply_without_quote_marks_is_cut_at_the_attribution() -> None:
    body = (
        "Добрый день, исправили.\n\n"
        '02.11.2026, 09:14, "Алиса Пример" <alice@yandex.ru>:\n'
        "Не работает принтер.\n"
    )
    assert strip_quoted(body) == "Добрый день, исправили."


def test_forward_at_the_top_is_kept_on_purpose() -> None:
    body = (
        "---------- Forwarded message ---------\n"
        "From: Vendor Support <support@vendor.example>\n"
        "Date: Mon, Nov 2, 2026 at 9:14 AM\n"
        "Subject: Firmware 2.3\n"
        "To: <bob@acme.example>\n\n"
        "Firmware 2.3 fixes the offline bug.\n"
    )
    assert strip_quoted(body) == body.strip()


def test_forward_after_commands_and_footer_is_kept() -> None:
    body = (
        "#queue vendors\n\nSent from my iPhone\n\nBegin forwarded message:\n\n"
        "> From: Vendor <v@vendor.example>\n> Subject: Firmware\n"
    )
    assert strip_quoted(body) == (
        "#queue vendors\n\n\nBegin forwarded message:\n\n"
        "> From: Vendor <v@vendor.example>\n> Subject: Firmware"
    )


def test_forward_below_the_answer_is_history() -> None:
    body = (
        f"{ANSWER}\n\n-------- Пересылаемое сообщение --------\n"
        "02.11.2026, 09:14, Алиса <alice@yandex.ru>:\nТекст\n"
    )
    assert strip_quoted(body) == ANSWER


def test_top_posted_answer_keeps_inner_formatting() -> None:
    answer = "Hi,\n\n  indented code\n\tand a tab\n\n- a list\n- b"
    body = f"\n\n{answer}   \n\n\nOn Mon, 2 Nov 2026, Alice <a@x.example> wrote:\n> x"
    assert strip_quoted(body) == answer


def test_prose_that_mentions_writing_is_kept() -> None:
    body = "On reflection, here is what I wrote:\nthe driver is fine."
    assert strip_quoted(body) == body
    body = "On Monday we swapped the toner.\nThen Alice wrote: it works."
    assert strip_quoted(body) == body


def test_whole_mail_being_a_quote_is_kept() -> None:
    assert strip_quoted("> just a quote\n> nothing else\n") == (
        "> just a quote\n> nothing else"
    )
    assert strip_quoted("") == ""
    assert strip_quoted(" \n\n") == ""


def test_plain_reply_without_history_is_unchanged() -> None:
    assert strip_quoted(ANSWER) == ANSWER


def test_hostile_long_lines_stay_fast() -> None:
    body = "On " + "x <" * 200_000 + "\n" + "1:11 <" * 100_000 + "\n" + ">\n" * 50_000
    start = time.perf_counter()
    strip_quoted(body)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize(
    "line",
    [
        "Alice wrote:\n\n",
        "On Mon Alice wrote:\n",
        "From: a\nSent: b\nTo: c\n",
        "On 1 Nov, A wrote:\n> q\nanswer\n",
    ],
)
def test_many_header_like_lines_stay_fast(line: str) -> None:
    start = time.perf_counter()
    strip_quoted(line * 10_000)
    assert time.perf_counter() - start < 2
