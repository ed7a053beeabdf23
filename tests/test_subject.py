"""Subjects: reply prefixes in many languages, our `[TAG #n]` token, `[k=v]` args."""

from __future__ import annotations

import pytest
from tierdesk.parsers.subject import format_subject, parse_subject, strip_reply_prefixes

TAG = "ACME"


@pytest.mark.parametrize(
    "prefix",
    [
        "Re:", "RE:", "re:", "Fwd:", "FWD:", "Fw:", "FW:", "AW:", "WG:", "SV:",
        "VS:", "Antw:", "Ref:", "Réf:", "RÉF :", "TR:", "RV:", "Odp:", "Enc:",
        "Ответ:", "Отв:", "ОТВ:", "Пересл:", "Re[2]:", "RE(3):", "Re :",
        "Re  [12] :", "Fwd：",
    ],
)  # fmt: skip
def test_each_reply_prefix_is_stripped(prefix: str) -> None:
    assert strip_reply_prefixes(f"{prefix} Printer offline") == "Printer offline"


def test_reply_prefix_chain_is_stripped() -> None:
    assert (
        strip_reply_prefixes("Re:Re: Fwd: RE[2]: AW: Printer offline")
        == "Printer offline"
    )


def test_reply_prefix_chain_in_russian_is_stripped() -> None:
    assert (
        strip_reply_prefixes("Ответ: Отв: Пересл: Заказ не доставлен")
        == "Заказ не доставлен"
    )


def test_prefixes_after_a_list_tag_are_stripped_and_the_tag_kept() -> None:
    assert strip_reply_prefixes("[acme-users] Re: Fwd: Webhook retries") == (
        "[acme-users] Webhook retries"
    )
    assert strip_reply_prefixes("Re: [acme-users] Re: Webhook retries") == (
        "[acme-users] Webhook retries"
    )


@pytest.mark.parametrize(
    "subject",
    [
        "Reorder: toner for printer 3",
        "Refund request: order 7781",
        "Tracking: parcel 12",
        "Regarding the invoice",
        "[acme-users] Webhook retries",
        "Printer offline. Re: yesterday",
    ],
)
def test_words_that_merely_start_like_a_prefix_are_kept(subject: str) -> None:
    assert strip_reply_prefixes(subject) == subject


@pytest.mark.parametrize(
    "subject",
    [
        "[ACME #123] Printer offline",
        "Re: [ACME #123] Printer offline",
        "[acme#123] Printer offline",
        "[ ACME  # 123 ] Printer offline",
        "Printer offline [Acme #123]",
        "AW: Re: [ACME #123] Re: Printer offline",
        "[acme-users] Re: [ACME #123] Printer offline",
    ],
)
def test_our_token_is_found_anywhere_in_any_case_and_spacing(subject: str) -> None:
    info = parse_subject(subject, TAG)
    assert info.ticket == 123
    assert info.title.endswith("Printer offline")
    assert "#" not in info.title


@pytest.mark.parametrize(
    "subject",
    [
        "[issue123] Printer offline",
        "[SUP-123] Printer offline",
        "[ACMEX #123] Printer offline",
        "[GLOBEX #123] Printer offline",
        "[ACME 123] Printer offline",
        "ACME #123 Printer offline",
    ],
)
def test_tokens_of_other_systems_are_not_ours(subject: str) -> None:
    assert parse_subject(subject, TAG).ticket is None


def test_token_with_absurdly_many_digits_is_not_a_ticket() -> None:
    assert parse_subject(f"[ACME #{'9' * 5000}] x", TAG).ticket is None


def test_title_loses_prefixes_token_and_args() -> None:
    info = parse_subject("Re: [ACME #12]   Printer   offline [status=resolved]", TAG)
    assert info.ticket == 12
    assert info.title == "Printer offline"
    assert info.args == {"status": "resolved"}


def test_several_args_in_one_bracket_or_several_brackets() -> None:
    assert parse_subject("[ACME #7] x [status=resolved;tier=2]", TAG).args == {
        "status": "resolved",
        "tier": "2",
    }
    assert parse_subject("[ACME #7] x [status=open] [Tier = 3]", TAG).args == {
        "status": "open",
        "tier": "3",
    }


def test_brackets_that_are_not_args_stay_in_the_title() -> None:
    info = parse_subject("[ACME #7] VPN [urgent] [see a=b here]", TAG)
    assert info.args == {}
    assert info.title == "VPN [urgent] [see a=b here]"


def test_subject_without_token_keeps_its_title() -> None:
    info = parse_subject("Fwd: Cannot log in", TAG)
    assert (info.ticket, info.title, info.args) == (None, "Cannot log in", {})


def test_tag_with_spaces_and_regex_characters_is_matched_literally() -> None:
    assert parse_subject("[Acme Support #5] x", "Acme Support").ticket == 5
    assert parse_subject("[A.C #5] x", "A.C").ticket == 5
    assert parse_subject("[ABC #5] x", "A.C").ticket is None


def test_format_subject_puts_one_token_in_front() -> None:
    assert format_subject(TAG, 12, "Printer offline") == "[ACME #12] Printer offline"


def test_format_subject_never_stacks_tokens_or_prefixes() -> None:
    assert format_subject(TAG, 12, "Re: [ACME #12] Re: Printer offline") == (
        "[ACME #12] Printer offline"
    )
    assert format_subject(TAG, 13, "[acme #12] Printer offline") == (
        "[ACME #13] Printer offline"
    )


def test_format_subject_of_an_empty_title_is_just_the_token() -> None:
    assert format_subject(TAG, 1, "  Re:  ") == "[ACME #1]"


def test_format_subject_cannot_inject_headers() -> None:
    subject = format_subject(TAG, 4, "Printer\r\nBcc: victim@evil.example")
    assert subject == "[ACME #4] Printer Bcc: victim@evil.example"
    assert parse_subject(subject, TAG).ticket == 4
