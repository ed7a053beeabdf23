"""Routing cost: microseconds per message to evaluate a rules file, 200 rules by default.

    python bench/routing.py                # 200 generated rules, 2000 messages
    python bench/routing.py --rules rules/example-rules.yaml

The generated rules mix the tests admins write (sender and domain patterns,
plus-tags, subject substrings and regexes, headers, attachments, business
hours) and almost none match, so every message walks nearly all of them: the
worst case. Prints the median and p99 per message.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tierdesk.parsers.classify import classify
from tierdesk.parsers.parse import parse_mail
from tierdesk.rules.load import load_rules
from tierdesk.rules.match import MatchInput, decide

from bench.corpus import generate

TESTS = [
    "sender_domain: 'vendor{i}.example'",
    "sender: 'boss{i}@*.example'",
    "recipient: team{i}",
    "subject: 'contract {i}'",
    "subject: {{regex: '\\\\bticket-{i}\\\\b'}}",
    "body: 'reference {i}'",
    "header: {{name: X-Customer-Id, equals: 'c{i}'}}",
    "attachment_type: '*.t{i}'",
    "all: [{{subject: 'urgent {i}'}}, {{business_hours: office}}]",
    "any: [{{sender_domain: 'a{i}.example'}}, {{subject: 'b{i}'}}]",
]


def rules_file(n: int, seed: int) -> Path:
    """A rules file of `n` generated rules that rarely match."""
    rng = random.Random(seed)
    lines = [
        "timezone: Europe/Berlin",
        "business_hours: {office: {mon-fri: '09:00-17:00'}}",
        "queues: [q0, q1, q2, q3]",
        "rules:",
    ]
    for i in range(n):
        test = rng.choice(TESTS).format(i=i)
        lines += [
            f"  - name: rule {i}",
            f"    when: {{{test}}}",
            f"    then: {{queue: q{i % 4}, tags: [t{i}]}}",
        ]
    path = Path(tempfile.mkdtemp(prefix="tierdesk-routing-")) / "rules.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    """Time `decide` over a corpus and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rules", type=Path, help="a rules file (default: 200 generated rules)"
    )
    parser.add_argument("--count", type=int, default=200, help="generated rules")
    parser.add_argument("-n", type=int, default=2000, help="messages")
    args = parser.parse_args()
    path = args.rules or rules_file(args.count, 5)
    ruleset = load_rules(path, run_tests=False)
    inputs = []
    now = datetime(2026, 1, 7, 10, 0, tzinfo=UTC)
    for raw in generate(args.n, 9):
        mail = parse_mail(raw)
        inputs.append(
            MatchInput(
                mail,
                classify(mail, None, frozenset(), ""),
                now,
                recipients=("support@example.com",),
            )
        )
    timings = []
    matched = 0
    for inp in inputs:
        started = time.perf_counter()
        routing = decide(ruleset, inp)  # as the pipeline does: no explanations
        timings.append(time.perf_counter() - started)
        matched += bool(routing.decision.matched_rules)
    timings.sort()
    print(
        f"# {len(ruleset.rules)} rules from {path}, {len(inputs)} messages, {matched} matched a rule"
    )
    print(
        f"median {statistics.median(timings) * 1e6:.0f} us  p99 {timings[int(len(timings) * 0.99)] * 1e6:.0f} us"
        f"  per message"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
