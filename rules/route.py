"""The route stage: choose tier, queue, priority, language and template.

Until the YAML rules land every ticket goes to tier 1, in the queue of the
IMAP mailbox it came from or `default`; the language comes from the message.
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
    origin_queue: str | None = None,
) -> Decision:
    """Decide how a new or updated ticket is handled.

    `origin_queue` is the queue of the IMAP mailbox the message came from, if any.
    """
    language = detect_language(mail, supported=languages, default=default_language)
    return Decision(language=language, queue=origin_queue or Decision.queue)
