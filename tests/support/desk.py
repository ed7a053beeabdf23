"""An in-process desk with agents, and helpers to write mail as its people."""

from __future__ import annotations

import email
import email.policy
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from tierdesk.daemon.config import Config
from tierdesk.daemon.runtime import open_runtime
from tierdesk.storage import spool
from tierdesk.storage.clock import Clock, system_clock
from tierdesk.storage.models import OutboxItem, Ticket

from tests.conftest import fixture_bytes, make_config
from tests.support.envelope import plain_envelope

RULES = """
queues: [hardware]
agents:
  alice: {address: alice@acme.example, name: Alice Smith, tier: 1}
  bob: {address: bob@acme.example, name: Bob Jones, tier: 1}
  carol: {address: carol@acme.example, name: Carol White, tier: 2}
  acmevendor: {address: help@vendor.example, name: Vendor Desk, tier: 4}
queue_vendors: {hardware: acmevendor}
groups:
  printer-people: [bob]
queue_groups: {hardware: printer-people}
rules:
  - name: printers by subject
    when: {subject: printer 7}
    then: {queue: hardware}
"""
OURS = frozenset({"support@example.com"})


class Desk:
    """An in-process tierdesk with agents, and helpers to write mail as its people."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.keys = runtime.snapshot.keys

    def receive(self, raw: bytes, rcpt: str | None = None, sender: str | None = None):
        """Spool `raw` as our MTA hands it over (by default: From as envelope sender,
        To and Cc as recipients), and run the pipeline on it."""
        plain_sender, plain_recipients = plain_envelope(raw)
        recipients = (rcpt,) if rcpt else plain_recipients
        arrival = spool.Arrival(raw, "test", sender or plain_sender, recipients)
        (spool_id,) = spool.spool(self.runtime.sql, [arrival], self.runtime.clock())
        return self.runtime.pipeline.process(spool_id)

    def outbox(self, kind: str | None = None) -> list[email.message.EmailMessage]:
        """The mails in the outbox (of one kind), oldest first."""
        query = OutboxItem.select().order_by(OutboxItem.id)
        if kind:
            query = query.where(OutboxItem.kind == kind)
        return [
            email.message_from_bytes(bytes(o.raw), policy=email.policy.default)
            for o in query
        ]

    def notice_for(self, agent_address: str) -> email.message.EmailMessage:
        """The latest mail to `agent_address`."""
        notices = [
            m for m in self.outbox() if m["To"].addresses[0].addr_spec == agent_address
        ]
        assert notices, f"no notice for {agent_address}"
        return notices[-1]

    def agent_mail(
        self,
        sender: str,
        to: str,
        body: str,
        subject: str = "Re: your ticket",
        mid: str = "a1",
    ) -> bytes:
        """A plain mail from an agent's mail client."""
        return (
            f"From: Agent <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{mid}@acme.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + textwrap.dedent(body).replace("\n", "\r\n")
        ).encode()


def open_desk(
    tmp_path: Path,
    db_url: str,
    rules: str = RULES,
    configure: Callable[[Config], Config] | None = None,
    clock: Clock = system_clock,
) -> Iterator[Desk]:
    """A desk with `rules`, a changed config and a clock (for a fixture: `yield from`)."""
    path = tmp_path / "rules.yaml"
    path.write_text(rules)
    config = replace(make_config(tmp_path, db_url), rules=path)
    runtime = open_runtime(configure(config) if configure else config, clock=clock)
    yield Desk(runtime)
    runtime.close()


class HandClock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move on by timedelta(**delta)."""
        self.now += timedelta(**delta)


def new_ticket(desk: Desk) -> Ticket:
    """Alice Example's printer request, as ticket 1."""
    outcome = desk.receive(fixture_bytes("flow/new_request.eml"))
    return Ticket.get(Ticket.number == outcome.ticket)


def body(msg: email.message.EmailMessage) -> str:
    """The plain-text body with plain line breaks."""
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
