"""sanitize_filename: attachment names safe to store and offer for download."""

from __future__ import annotations

import pytest
from tierdesk.parsers.filenames import sanitize_filename


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("C:\\Users\\anna\\invoice.pdf", "invoice.pdf"),
        ("report.pdf/..", "report.pdf"),
        ("..\\..\\boot.ini", "boot.ini"),
    ],
)
def test_paths_and_traversal_are_removed(name: str, safe: str) -> None:
    assert sanitize_filename(name) == safe


def test_control_characters_are_removed() -> None:
    assert sanitize_filename("in\x00voice\r\n.pdf\x7f") == "in voice .pdf"


def test_right_to_left_override_cannot_disguise_an_extension() -> None:
    assert sanitize_filename("invoice\u202efdp.exe") == "invoice fdp.exe"


@pytest.mark.parametrize(
    ("name", "safe"), [(".htaccess", "htaccess"), ("...x.pdf", "x.pdf")]
)
def test_leading_dots_are_removed(name: str, safe: str) -> None:
    assert sanitize_filename(name) == safe


def test_trailing_dots_and_spaces_are_removed() -> None:
    assert sanitize_filename("setup.exe. . ") == "setup.exe"


def test_characters_windows_forbids_are_replaced() -> None:
    assert sanitize_filename('what?<is>"this"|*:.txt') == "what__is__this____.txt"


def test_windows_device_names_are_defused() -> None:
    assert sanitize_filename("CON.txt") == "_CON.txt"
    assert sanitize_filename("nul") == "_nul"


@pytest.mark.parametrize(
    "name", ["Rechnung März.pdf", "отчёт за март.docx", "見積書.xlsx"]
)
def test_unicode_is_kept(name: str) -> None:
    assert sanitize_filename(name) == name


def test_decomposed_unicode_is_normalised() -> None:
    assert sanitize_filename("Ma\u0308rz.pdf") == "März.pdf"


@pytest.mark.parametrize("name", ["", "   ", ".", "..", "/", "\x00\x01", "\u202e"])
def test_never_empty(name: str) -> None:
    assert sanitize_filename(name) == "attachment"
    assert sanitize_filename(name, fallback="attachment-2.png") == "attachment-2.png"


def test_a_bad_fallback_is_sanitised_too() -> None:
    assert sanitize_filename("", fallback="../x.txt") == "x.txt"
    assert sanitize_filename("", fallback="..") == "attachment"


def test_long_names_are_capped_and_keep_their_extension() -> None:
    safe = sanitize_filename("a" * 500 + ".pdf")
    assert safe.endswith("a.pdf") and len(safe.encode()) == 200


def test_long_unicode_names_are_cut_on_a_character_boundary() -> None:
    safe = sanitize_filename("отчёт" * 100 + ".docx")
    assert safe.endswith(".docx") and len(safe.encode("utf-8")) <= 200
    assert safe.startswith("отчёт")


def test_long_name_without_a_sensible_extension_is_just_cut() -> None:
    assert len(sanitize_filename("b" * 300 + ".this-is-no-extension").encode()) <= 200
