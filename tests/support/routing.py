"""Routing-rule test helpers: a rules file on a shared base, a customer's mail, and routing it."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tierdesk.parsers.classify import classify
from tierdesk.parsers.parse import parse_mail
from tierdesk.rules.load import load_rules
from tierdesk.rules.match import MatchInput, decide

BERLIN = ZoneInfo("Europe/Berlin")
WEDNESDAY_10 = datetime(2026, 1, 7, 10, 0, tzinfo=BERLIN)

BASE = """
timezone: Europe/Berlin
business_hours:
  office: {mon-fri: "09:00-17:00"}
queues: [billing, network]
agents:
  alice: {address: alice@acme.example, tier: 1}
  bob: {address: bob@acme.example, tier: 1}
  carol: {address: carol@acme.example, tier: 2}
groups:
  first-line: [alice, bob]
vip: ["boss@big.example", "*@partner.example"]
sla:
  standard: {business_hours: office, first_response: {normal: 4h}, resolution: {normal: 2d}}
"""


def rules_file(tmp_path: Path, rules: str, extra: str = "") -> Path:
    """Write BASE + ``extra`` + ``rules`` (indented under ``rules:``) to tmp_path/rules.yaml."""
    path = tmp_path / "rules.yaml"
    path.write_text(
        BASE + extra + "rules:\n" + textwrap.indent(textwrap.dedent(rules), "  "),
        encoding="utf-8",
    )
    return path


def message(
    subject: str = "Hello",
    body: str = "Some text.",
    sender: str = "customer@customer.example",
    to: str = "support@acme.example",
    headers: str = "",
    attachment: str | None = None,
) -> bytes:
    """A customer's mail, plain text or with one attachment named ``attachment``."""
    head = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <m@customer.example>\r\n{headers}"
    if attachment is None:
        return (
            head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body
        ).encode()
    return (
        head
        + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
        f"{body}\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        f'Content-Disposition: attachment; filename="{attachment}"\r\n\r\nxx\r\n--b--\r\n'
    ).encode()


def route(
    path: Path,
    raw: bytes,
    *,
    now: datetime = WEDNESDAY_10,
    mailbox: str = "",
    known: bool = False,
    language: str = "en",
):
    """Load the rules at ``path`` and decide (with a trace) where ``raw`` goes."""
    ruleset = load_rules(path)
    mail = parse_mail(raw)
    inp = MatchInput(
        mail,
        classify(mail, None, frozenset(), ""),
        now,
        mailbox=mailbox,
        known_customer=known,
        language=language,
    )
    return decide(ruleset, inp, explain=True)
