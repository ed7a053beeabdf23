"""The route stage: the rules decide tier, queue, priority, assignee, language, template, SLA.

Only a message that would open a ticket is routed; a reply joins its ticket
as it is. The decision's round-robin group is turned into an agent by the
caller, which has the database.
"""

from __future__ import annotations

from datetime import datetime

from tierdesk.parsers.language import detect_language
from tierdesk.parsers.parsed import Classification, ParsedMail
from tierdesk.rules.decision import Decision
from tierdesk.rules.match import MatchInput, Routing, decide
from tierdesk.rules.model import RuleSet


def route(
    ruleset: RuleSet,
    mail: ParsedMail,
    classification: Classification,
    *,
    recipients: tuple[str, ...],
    mailbox: str,
    origin_queue: str | None,
    known_customer: bool,
    languages: tuple[str, ...],
    default_language: str,
    now: datetime,
    explain: bool = False,
) -> Routing:
    """Run the rules for a message that would open a ticket."""
    language = detect_language(mail, supported=languages, default=default_language)
    inp = MatchInput(
        mail=mail,
        classification=classification,
        recipients=recipients,
        mailbox=mailbox,
        origin_queue=origin_queue,
        known_customer=known_customer,
        language=language,
        now=now,
    )
    return decide(ruleset, inp, explain)


NOT_ROUTED = Routing(Decision(), ())
