"""The route stage: choose tier, queue, priority, language and template.

Until the YAML rules land every ticket goes to tier 1, queue `default`; the
language comes from the message itself.
"""

from __future__ import annotations

from parsers.language import detect_language
from parsers.parsed import Classification, ParsedMail
from rules.decision import Decision


def route(
    mail: ParsedMail,
    classification: Classification,
    languages: tuple[str, ...],
    default_language: str,
) -> Decision:
    """Decide how a new or updated ticket is handled."""
    language = detect_language(mail, supported=languages, default=default_language)
    return Decision(language=language)
