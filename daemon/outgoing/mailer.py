"""The mail the apply stage causes, composed from the current rules and templates.

Storage decides *that* a mail goes out (in the transaction that causes it);
this module decides to whom and renders it: the loop guard for automatic
mail, the agents who should hear about a ticket (its assignee, else its
tier), and the agent's answers and status mails to the customer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tierdesk.daemon.config import Config
from tierdesk.daemon.outgoing.compose import Composer, Thread, is_deliverable_address
from tierdesk.daemon.outgoing.templating import TemplateFailure
from tierdesk.parsers.language import detect_language
from tierdesk.parsers.parsed import Classification, MailAttachment, ParsedMail
from tierdesk.parsers.quotes import strip_quoted
from tierdesk.rules.decision import Decision
from tierdesk.rules.guard import automatic_mail_refusal
from tierdesk.rules.model import Agent, RuleSet
from tierdesk.storage.apply import CannotCompose
from tierdesk.storage.outbox import OutgoingMail
from tierdesk.storage.tickets import TicketFacts


def _rendered(make: Callable[[], OutgoingMail]) -> OutgoingMail:
    try:
        return make()
    except TemplateFailure as exc:
        raise CannotCompose(str(exc)) from exc


@dataclass
class Mailer:
    """See `storage.apply.Mailer` (and `storage.agent_apply.AgentMailer`)."""

    config: Config
    rules: RuleSet
    composer: Composer

    @property
    def own_addresses(self) -> frozenset[str]:
        """Our support addresses, lower-cased."""
        return frozenset(a.lower() for a in self.config.support.addresses)

    def refusal(
        self, classification: Classification, address: str, sent_last_hour: int
    ) -> str | None:
        """Why no automatic mail may go to `address` now, or None."""
        return automatic_mail_refusal(
            classification,
            address,
            self.own_addresses,
            is_deliverable_address(address),
            sent_last_hour,
            self.config.support.auto_replies_per_hour,
        )

    def acknowledgement(
        self, ticket: TicketFacts, mail: ParsedMail, decision: Decision
    ) -> OutgoingMail:
        """The acknowledgement of a new ticket."""
        return _rendered(
            lambda: self.composer.acknowledgement(
                ticket, mail, decision.language, decision.template
            )
        )

    def status_list(self, mail: ParsedMail, tickets: list[TicketFacts]) -> OutgoingMail:
        """The answer to a customer's status request."""
        support = self.config.support
        language = detect_language(
            mail, tuple(support.languages), support.default_language
        )
        return _rendered(lambda: self.composer.status_list(mail, tickets, language))

    def watchers(
        self, ticket: TicketFacts, except_agent: str | None = None
    ) -> list[Agent]:
        """Who hears about a ticket: its assignee, else the agents of its tier."""
        assignee = self.rules.agents.get(ticket.assignee or "")
        agents = (
            [assignee] if assignee else self.rules.agents_for(ticket.tier, ticket.queue)
        )
        return [
            a
            for a in agents
            if a.name != except_agent and is_deliverable_address(a.address)
        ]

    def agent_notices(
        self, ticket: TicketFacts, mail: ParsedMail, template: str
    ) -> list[OutgoingMail]:
        """A notice per watching agent, with the new text (quoted history trimmed)."""
        extra = {
            "text": strip_quoted(mail.text).strip() or "(no text)",
            "attachments": [a.filename for a in mail.attachments if not a.inline],
        }
        thread = Thread.under(mail)
        return [
            _rendered(
                lambda a=agent: self.composer.agent_notice(
                    ticket, a, template, mail.message_id, thread, extra
                )
            )
            for agent in self.watchers(ticket)
        ]

    def note_notices(
        self,
        ticket: TicketFacts,
        author: str,
        text: str,
        attachments: list[str],
        cause: str,
        thread_ids: list[str],
    ) -> list[OutgoingMail]:
        """Tell the other watching agents about a private note (an agent's or a vendor's)."""
        extra = {
            "author": author,
            "text": text or "(no text)",
            "attachments": attachments,
        }
        thread = Thread.of(thread_ids)
        return [
            _rendered(
                lambda a=agent: self.composer.agent_notice(
                    ticket, a, "notify_note", cause, thread, extra
                )
            )
            for agent in self.watchers(ticket, except_agent=author)
        ]

    def assignment_notices(
        self,
        ticket: TicketFacts,
        assignee: str,
        by: str,
        cause: str,
        thread_ids: list[str],
    ) -> list[OutgoingMail]:
        """Tell an agent that a ticket was assigned to them."""
        agent = self.rules.agents.get(assignee)
        if agent is None or not is_deliverable_address(agent.address):
            return []
        extra = {"author": by}
        thread = Thread.of(thread_ids)
        return [
            _rendered(
                lambda: self.composer.agent_notice(
                    ticket, agent, "notify_assigned", cause, thread, extra
                )
            )
        ]

    def command_errors(
        self, ticket: TicketFacts, agent: Agent, errors: list[str], cause: str
    ) -> OutgoingMail:
        """A short answer to an agent whose mail was refused, listing what was wrong."""
        thread = Thread.of([cause])
        return _rendered(
            lambda: self.composer.agent_notice(
                ticket, agent, "command_errors", cause, thread, {"errors": errors}
            )
        )

    def agent_reply(
        self,
        ticket: TicketFacts,
        agent: Agent,
        text: str,
        attachments: tuple[MailAttachment, ...],
        thread_ids: list[str],
        cause: str,
        status: str | None,
    ) -> OutgoingMail:
        """The agent's answer to the customer, threaded under the conversation."""
        thread = Thread.of(thread_ids)
        return _rendered(
            lambda: self.composer.agent_reply(
                ticket, agent, text, attachments, thread, cause, status
            )
        )

    def customer_status(
        self, ticket: TicketFacts, template: str, cause: str, thread_ids: list[str]
    ) -> OutgoingMail:
        """A status mail (resolved, closed) to the customer."""
        return _rendered(
            lambda: self.composer.customer_status(
                ticket, template, cause, Thread.of(thread_ids)
            )
        )

    def vendor_forward(
        self, ticket: TicketFacts, vendor: Agent, text: str, note: str, cause: str
    ) -> OutgoingMail:
        """The ticket handed to a vendor."""
        extra = {"text": text, "note": note}
        return _rendered(
            lambda: self.composer.vendor_forward(
                ticket, vendor, cause, Thread.of([]), extra
            )
        )
