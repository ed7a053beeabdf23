"""The fuzz cases: real messages under stacked mutations, agents' mail with hostile commands, extremes.

Used by bench/fuzz.py and tests/test_fuzz.py. The same seed and the same
fixtures give the same cases, byte for byte.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

from bench.corpus import generate
from bench.extreme_mail import extreme_cases
from bench.mutations import MUTATIONS

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
SUPPORT = "support@example.com"
SIGNED = b"SIGNED-ADDRESS@example.com"  # the desk puts the signed address here
# most cases get a Message-ID of their own, so they reach storage rather than
# stop as duplicates of their base message; the others keep the base's
FRESH_MESSAGE_IDS = 0.8
AGENT_MAIL = 0.15  # the share of cases written by an agent or the vendor
TICKETS_NAMED = 60  # agents' mail names tickets 1..60, some of them not (yet) there
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
    when: {subject: printer}
    then: {queue: hardware}
"""
AGENTS = {
    "alice": "alice@acme.example",
    "bob": "bob@acme.example",
    "carol": "carol@acme.example",
    "acmevendor": "help@vendor.example",
}
# commands with the values an agent might mistype, paste or be tricked into
COMMANDS = {
    "status": ("resolved", "pending", "open", "closed", "bogus", "x" * 500, "open\x00"),
    "assign": ("bob", "me", "none", "carol", "z" * 300, "ж" * 70, "bob\x00", ""),
    "queue": ("hardware", "default", "q" * 200, "hard\x00ware"),
    "tags": ("+urgent -old", "+" + "t" * 1000, "+a\x00b", "+" + "ж" * 50, "-", "+a -a"),
    "merge": ("1", "#2", "[ACME #3]", "999999999999999999", "0", "-1", "x"),
    "priority": ("urgent", "low", "p" * 100),
    "tier": ("2", "4", "9"),
    "comment": ("", "not empty"),
    "vendor": ("acmevendor", "v" * 100),
}
_MALLORY = b"mallory@"  # the sender of every extreme case
_MESSAGE_ID_LINE = re.compile(rb"(?im)^Message-ID:[^\r\n]*")
_FROM_LINE = re.compile(rb"^From:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Signed:
    """A signed reply address the desk makes for a case: ticket, role, name, mode."""

    ticket: int
    role: str
    name: str
    mode: str


@dataclass(frozen=True)
class Case:
    """One hostile message: how it was made, its bytes, and a signed envelope recipient if any."""

    name: str
    raw: bytes
    signed: Signed | None = None


def base_messages(seed: int, generated: int = 60) -> list[tuple[str, bytes]]:
    """Real messages to mutate: every test fixture, and some of the benchmark corpus."""
    fixtures = sorted(FIXTURES.rglob("*.eml"))
    found = [(str(p.relative_to(FIXTURES)), p.read_bytes()) for p in fixtures]
    corpus = generate(generated, seed)
    return found + [(f"corpus/{i}", raw) for i, raw in enumerate(corpus)]


def mutate(raw: bytes, rng: random.Random, count: int) -> tuple[bytes, list[str]]:
    """`count` mutations stacked on `raw` (fewer if none applies); the bytes and the names applied."""
    applied = []
    for _ in range(count):
        for mutation in rng.sample(MUTATIONS, len(MUTATIONS)):
            out = mutation(raw, rng)
            if out is not None:
                raw = out
                applied.append(mutation.__name__)
                break
    return raw, applied


def mutated_case(index: int, seed: int, bases: Sequence[tuple[str, bytes]]) -> Case:
    """Case `index` of a seed: a base message under one to three mutations."""
    rng = random.Random(f"fuzz:{seed}:{index}")
    base_name, raw = rng.choice(bases)
    if rng.random() < FRESH_MESSAGE_IDS:
        own = b"Message-ID: <fuzz.%d.%d@customer.example>" % (seed, index)
        raw = _MESSAGE_ID_LINE.sub(lambda _: own, raw, count=1)
    raw, applied = mutate(raw, rng, rng.choice((1, 1, 1, 2, 2, 3)))
    return Case(f"{index}:{'+'.join(applied)}@{base_name}", raw)


def agent_case(index: int, seed: int) -> Case:
    """Case `index` of a seed: an agent's (or the vendor's) answer or note with hostile commands."""
    rng = random.Random(f"fuzz-agent:{seed}:{index}")
    name = rng.choice(list(AGENTS))
    role = "vendor" if name == "acmevendor" else "agent"
    signed = Signed(
        rng.randint(1, TICKETS_NAMED),
        role,
        name,
        rng.choice(("reply", "reply", "note")),
    )
    lines = [
        f"#{command} {rng.choice(values)}".rstrip()
        for command, values in rng.sample(sorted(COMMANDS.items()), rng.randint(0, 3))
    ]
    text = "\n".join([*lines, "", "We replaced the toner; please try again.", ""])
    raw = (
        f"From: Agent <{AGENTS[name]}>\nTo: ".encode()
        + SIGNED
        + f"\nSubject: Re: [ACME #{signed.ticket}] Printer\n"
        f"Message-ID: <fuzz-agent.{seed}.{index}@acme.example>\n"
        "Content-Type: text/plain; charset=utf-8\n\n".encode()
        + text.encode("utf-8", "surrogatepass")
    )
    raw, applied = mutate(raw, rng, rng.choice((0, 1, 1, 2)))
    commands = ",".join(line.split()[0] for line in lines)
    return Case(f"{index}:{'+'.join(applied)}@agent:{name}:{commands}", raw, signed)


def fuzz_cases(n: int, seed: int, extremes: bool = True) -> list[Case]:
    """`n` mutated messages for `seed` (some of them agents'), then every fixed extreme case."""
    bases = base_messages(seed)
    choose = random.Random(f"fuzz-kind:{seed}")
    cases = [
        agent_case(i, seed)
        if choose.random() < AGENT_MAIL
        else mutated_case(i, seed, bases)
        for i in range(n)
    ]
    cases += _unapplied_mutations(cases, seed, bases)
    if extremes:
        # each from a sender of its own, so none is cut short by the limits on one sender
        cases += [
            Case(f"extreme:{name}", raw.replace(_MALLORY, name.encode() + b"@", 1))
            for name, raw in extreme_cases()
        ]
    return cases


def _unapplied_mutations(
    cases: Sequence[Case], seed: int, bases: Sequence[tuple[str, bytes]]
) -> list[Case]:
    """One case for each mutation the random round left out, so every round holds them all."""
    # the random choice shifts whenever a fixture is added; this keeps the coverage fixed
    names = " ".join(case.name for case in cases)
    added = []
    for mutation in MUTATIONS:
        if mutation.__name__ in names:
            continue
        rng = random.Random(f"fuzz-cover:{seed}:{mutation.__name__}")
        for base_name, raw in bases:
            index = len(cases) + len(added)
            own = b"Message-ID: <fuzz.%d.%d@customer.example>" % (seed, index)
            out = mutation(_MESSAGE_ID_LINE.sub(own, raw, count=1), rng)
            if out is not None:
                name = f"{index}:{mutation.__name__}@{base_name}"
                added.append(Case(name, out))
                break
    return added


def envelope(raw: bytes) -> tuple[str, tuple[str, ...]]:
    """The envelope a sending client would give: its From address as sender, to support."""
    found = _FROM_LINE.search(raw[:200_000])
    address = parseaddr(found.group(1).decode("latin-1"))[1] if found else ""
    # SMTP carries no NUL and no line break in a path; our listener would refuse it
    address = re.sub(r"[\x00-\x20\x7f]", "", address)
    return address or "fuzz@customer.example", (SUPPORT,)
