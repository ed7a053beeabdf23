"""The search behind a mail to support+search@: run in the gather step, for an agent only."""

from __future__ import annotations

from dataclasses import replace

from tierdesk.rules.handling.facts import Facts, Inbound, Party, UnsignedAgent
from tierdesk.rules.handling.search_mail import (
    hidden_queues,
    search_query,
    wants_search,
)
from tierdesk.rules.handling.settings import Settings
from tierdesk.storage.search_query import search
from tierdesk.storage.sql import Sql

RESULTS_BY_MAIL = 10


def with_search_hits(
    sql: Sql, msg: Inbound, party: Party, settings: Settings, facts: Facts
) -> Facts:
    """The facts, with the tickets an agent's search request finds (only queues they read)."""
    if not wants_search(msg, party, settings):
        return facts
    assert isinstance(party, UnsignedAgent)
    hits = search(
        sql,
        search_query(msg.mail),
        limit=RESULTS_BY_MAIL,
        not_queues=hidden_queues(settings.rules, party.agent),
    )
    rows = tuple(
        {
            "number": h.number,
            "subject": h.subject,
            "status": h.status,
            "queue": h.queue,
            "updated": h.updated_at.date().isoformat() if h.updated_at else "",
            "snippet": h.snippet,
        }
        for h in hits
    )
    return replace(facts, search_hits=rows)
