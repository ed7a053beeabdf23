"""Search by mail: an agent who writes to support+search@ gets the tickets that match.

The query is the subject (without Re:/Fwd:), or the first line of the text
when the subject is empty. Only an agent writing from their own address,
verified as for any automatic answer (and with DKIM/DMARC where an
authserv-id is trusted), gets an answer, in the language the agent asked in;
the results go to the agent's configured address and hold only tickets of
queues the agent may read.
Anyone else, and any robot, gets nothing: no mail to strangers.
"""

from __future__ import annotations

import re

from tierdesk.parsers.authres import dkim_or_dmarc_pass, domain_of
from tierdesk.parsers.language import detect_language
from tierdesk.parsers.parsed import ParsedMail
from tierdesk.rules.guard import address_key, automatic_mail_refusal
from tierdesk.rules.handling.facts import Facts, Inbound, UnsignedAgent
from tierdesk.rules.handling.mails import agent_notice
from tierdesk.rules.handling.outcome import OutcomeKind
from tierdesk.rules.handling.plan import Plan, Thread, ignore
from tierdesk.rules.handling.settings import Settings
from tierdesk.rules.handling.trust import sender_verification
from tierdesk.rules.model import Agent, RuleSet

SEARCH_TAG = "search"  # support+search@
MAX_QUERY_CHARS = 200
_PREFIX_RE = re.compile(
    r"^\s*((re|fwd?|aw|wg|отв|пересл)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE
)


def is_search_request(msg: Inbound, settings: Settings) -> bool:
    """Mail whose envelope (or, without one, To/Cc) names support+search@."""
    own = {address_key(a) for a in settings.own_addresses}
    for address in msg.envelope.recipients or msg.recipients:
        local, _, domain = address.strip().lower().rpartition("@")
        base, plus, tag = local.partition("+")
        if plus and tag == SEARCH_TAG and f"{base}@{domain}" in own:
            return True
    return False


def search_query(mail: ParsedMail) -> str:
    """What the agent asks for: the subject without reply prefixes, else the first line."""
    query = _PREFIX_RE.sub("", mail.subject or "").strip()
    if not query:
        lines = (line.strip() for line in (mail.text or "").splitlines())
        query = next((line for line in lines if line), "")
    return query[:MAX_QUERY_CHARS]


def hidden_queues(rules: RuleSet, agent: Agent) -> frozenset[str]:
    """The queues whose tickets `agent` may not read: those of a group without them."""
    return frozenset(
        queue
        for queue, group in rules.queue_groups.items()
        if agent.name not in rules.groups.get(group, ())
    )


def wants_search(msg: Inbound, party: object, settings: Settings) -> bool:
    """Whether the gather step should run the search (an agent's search request)."""
    return isinstance(party, UnsignedAgent) and is_search_request(msg, settings)


def plan_search_request(
    msg: Inbound, party: object, facts: Facts, settings: Settings
) -> Plan | None:
    """A mail to support+search@: a verified agent gets the results; anyone else nothing."""
    if not is_search_request(msg, settings):
        return None
    if not isinstance(party, UnsignedAgent):
        return ignore(
            f"a search request from {msg.sender or '(nobody)'}, who is no agent"
        )
    agent = party.agent
    refusal = automatic_mail_refusal(
        msg.classification, msg.sender, settings.own_addresses
    )
    problem = refusal or _unverified(msg, settings)
    if problem:
        return ignore(f"search request of {agent.name} not answered: {problem}")
    query = search_query(msg.mail)
    answer = agent_notice(
        agent,
        "search_results",
        f"{msg.mail.message_id}/search",
        Thread.under(msg.mail),
        # agents have no language of their own: answer in the one they asked in
        detect_language(msg.mail, settings.languages, settings.default_language),
        f"{agent.name} searched the desk",
        limit_class="automatic",
        query=query,
        results=list(facts.search_hits),
    )
    return Plan(
        OutcomeKind.ANSWERED,
        f"search request of {agent.name}: {len(facts.search_hits)} ticket(s) found",
        mails=(answer,),
        if_unsent="search request not answered",
    )


def _unverified(msg: Inbound, settings: Settings) -> str | None:
    """Why the agent's From is not known to be theirs, or None."""
    if sender_verification(msg.mail, msg.envelope, settings) is None:
        return "the sender's address is not verified"
    authserv = settings.trust_for(msg.mailbox).authserv_id
    if authserv:
        results = msg.envelope.authentication
        if (
            results is None
            or dkim_or_dmarc_pass(results, domain_of(msg.sender)) is None
        ):
            return f"{authserv} reports no DKIM or DMARC pass"
    return None
