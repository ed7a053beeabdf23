"""`#answers`: the saved answers, mailed to the agent who asked; nothing else happens."""

from __future__ import annotations

from tierdesk.rules.handling.answer_facts import SavedAnswers
from tierdesk.rules.handling.facts import Inbound, TicketFacts
from tierdesk.rules.handling.mails import agent_notice
from tierdesk.rules.handling.outcome import OutcomeKind
from tierdesk.rules.handling.plan import Plan, RecordEvent, Thread
from tierdesk.rules.handling.settings import Settings
from tierdesk.rules.model import Agent


def answers_listing(
    msg: Inbound,
    agent: Agent,
    ticket: TicketFacts,
    answers: SavedAnswers | None,
    settings: Settings,
) -> Plan:
    """The list of saved answers (name, languages, first line) as a reply to the agent."""
    cause = msg.mail.message_id
    entries = answers.entries if answers else ()
    listing = agent_notice(
        agent,
        "answers_list",
        cause,
        Thread.of([cause]),
        settings.default_language,
        f"{agent.name} asked for the saved answers",
        answers=[
            {"name": e.name, "languages": list(e.languages), "first_line": e.first_line}
            for e in entries
        ],
    )
    return Plan(
        OutcomeKind.ANSWERED,
        f"agent:{agent.name}: listed {len(entries)} saved answer(s)",
        ticket,
        changes=(
            RecordEvent(f"agent:{agent.name}", "answers_listed", f"{len(entries)}"),
        ),
        mails=(listing,),
    )
