"""How agents' mail clients quote the notice they answer: top-posted or inline, with their headers.

Modelled on what each client writes: Outlook's header block after a rule
(in English, German, French, Dutch, Russian, Japanese), Gmail's and
Thunderbird's "On ... wrote:" with "> " quotes, Apple Mail's quoted
attribution, and a client that just pastes the original below.
"""

from __future__ import annotations

from collections.abc import Callable

OUTLOOK_FIELDS = {
    "en": ("From", "Sent", "To", "Subject"),
    "de": ("Von", "Gesendet", "An", "Betreff"),
    "fr": ("De", "Envoyé", "À", "Objet"),
    "nl": ("Van", "Verzonden", "Aan", "Onderwerp"),
    "ru": ("От", "Отправлено", "Кому", "Тема"),
    "ja": ("差出人", "送信日時", "宛先", "件名"),
}
SENT = "Monday, November 2, 2026 9:14 AM"
FROM = "ACME Support <support@example.com>"


def _quoted(lines: list[str]) -> list[str]:
    return [f"> {line}" if line else ">" for line in lines]


def _inline(original: list[str], answer: str, quote: Callable[[list[str]], list[str]]):
    """The answer written after the original's first paragraph, the rest quoted below."""
    cut = original.index("") if "" in original else len(original)
    return [*quote(original[:cut]), "", answer, "", *quote(original[cut:])]


def outlook(language: str) -> Callable[[str, str, str, str, bool], str]:
    """Outlook: the answer, a rule, the header block in the user's language, the original."""
    sender, sent, to, subject_field = OUTLOOK_FIELDS[language]

    def write(answer: str, original: str, recipient: str, subject: str, inline: bool):
        lines = original.splitlines()
        header = [
            "________________________________",
            f"{sender}: {FROM}",
            f"{sent}: {SENT}",
            f"{to}: {recipient}",
            f"{subject_field}: {subject}",
            "",
        ]
        if inline:  # Outlook leaves the original unquoted and writes in between
            return "\n".join([*header, *_inline(lines, answer, list)])
        return "\n".join([answer, "", *header, *lines])

    return write


def gmail(answer: str, original: str, recipient: str, subject: str, inline: bool):
    """Gmail: "On <date> <sender> wrote:" and "> " quotes."""
    head = f"On Mon, Nov 2, 2026 at 9:14 AM {FROM} wrote:"
    lines = original.splitlines()
    if inline:
        return "\n".join([head, "", *_inline(lines, answer, _quoted)])
    return "\n".join([answer, "", head, "", *_quoted(lines)])


def apple_mail(answer: str, original: str, recipient: str, subject: str, inline: bool):
    """Apple Mail: the attribution inside the quote."""
    quoted = [
        f"> On 2 Nov 2026, at 09:14, {FROM} wrote:",
        ">",
        *_quoted(original.splitlines()),
    ]
    if inline:
        cut = quoted.index(">", 2) if ">" in quoted[2:] else len(quoted)
        return "\n".join([*quoted[:cut], "", answer, "", *quoted[cut:]])
    return "\n".join([answer, "", *quoted])


def thunderbird(answer: str, original: str, recipient: str, subject: str, inline: bool):
    """Thunderbird: "On 02/11/2026 09:14, <name> wrote:" and "> " quotes."""
    head = "On 02/11/2026 09:14, ACME Support wrote:"
    lines = original.splitlines()
    if inline:
        return "\n".join([head, *_inline(lines, answer, _quoted)])
    return "\n".join([answer, "", head, *_quoted(lines)])


def no_header(answer: str, original: str, recipient: str, subject: str, inline: bool):
    """A client that pastes the original below (or around) the answer, with no header at all."""
    lines = original.splitlines()
    if inline:
        return "\n".join(_inline(lines, answer, list))
    return "\n".join([answer, "", *lines])


CLIENTS: dict[str, Callable[[str, str, str, str, bool], str]] = {
    **{f"outlook-{lang}": outlook(lang) for lang in OUTLOOK_FIELDS},
    "gmail": gmail,
    "apple-mail": apple_mail,
    "thunderbird": thunderbird,
    "no-header": no_header,
}
