"""The language to answer a message in, when no rule names one.

Content-Language wins when it names a supported language; otherwise a message
written mostly in Cyrillic letters is taken as Russian.
"""

from __future__ import annotations

import re

from tierdesk.parsers.parsed import ParsedMail

_SAMPLE_CHARS = 2000
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")


def detect_language(
    mail: ParsedMail, supported: tuple[str, ...] = ("en", "ru"), default: str = "en"
) -> str:
    """The reply language: Content-Language if supported, Cyrillic -> ru, else default.

    Only the subject and the first ~2000 characters of text are looked at.
    """
    for tag in mail.header("content-language").split(","):
        primary = tag.strip().split("-", 1)[0].split("_", 1)[0].lower()
        if primary in supported:
            return primary
    if "ru" in supported:
        sample = f"{mail.subject}\n{mail.text[:_SAMPLE_CHARS]}"
        cyrillic = len(_CYRILLIC_RE.findall(sample))
        if cyrillic and cyrillic > len(_LATIN_RE.findall(sample)):
            return "ru"
    return default
