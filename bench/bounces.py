"""How well flufl.bounce reads real bounces, and what it costs.

    .venv/bin/python bench/bounces.py

For each published sample in tests/fixtures/bounces: whether the failed
address was found, hard or soft, and the diagnostic; then the speed of
`read_bounce` on the samples and on the generated benchmark corpus (people's
mail, where it must find nothing), and how many of those it wrongly reads as
failures. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tierdesk.parsers.bounces import read_bounce

from bench.corpus import generate

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "bounces"
FAILED = "alice@customer.example"


def rate(raws: list[bytes], rounds: int) -> tuple[float, float]:
    """Messages/s (median of `rounds`) and the p99 per message in ms."""
    speeds, times = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in raws:
            t = time.perf_counter()
            read_bounce(raw)
            times.append(time.perf_counter() - t)
        speeds.append(len(raws) / (time.perf_counter() - start))
    times.sort()
    return statistics.median(speeds), times[int(len(times) * 0.99)] * 1000


def main() -> None:
    """Print the per-sample table, then the speed and false-positive figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="corpus messages")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    samples = sorted(SAMPLES.glob("*.eml"))
    raws = [
        p.read_bytes().replace(b"VERP_ADDRESS", b"support+bounce@example.com")
        for p in samples
    ]
    print(f"{'sample':16} {'found':6} {'kind':5} diagnostic")
    found = 0
    for path, raw in zip(samples, raws, strict=True):
        report = read_bounce(raw)
        hit = FAILED in (*report.permanent, *report.temporary)
        found += hit
        kind = "hard" if report.hard else "soft"
        print(
            f"{path.stem:16} {'yes' if hit else 'NO':6} {kind:5} {report.diagnostic[:70]}"
        )
    print(f"\nfailed address found in {found} of {len(samples)} samples")

    speed, p99 = rate(raws, args.rounds)
    print(f"samples: {speed:,.0f} bounces/s, p99 {p99:.2f} ms")
    corpus = generate(args.n, seed=1) if args.n else []
    if corpus:
        speed, p99 = rate(corpus, 1)
        wrong = sum(
            1 for raw in corpus if (r := read_bounce(raw)).permanent or r.temporary
        )
        print(
            f"people's mail (n={len(corpus)}): {speed:,.0f} messages/s, p99 {p99:.2f} ms, "
            f"{wrong} read as failures"
        )


if __name__ == "__main__":
    main()
