"""Mail parser benchmark: speed, robustness, memory and agreement of four parsers.

    .venv/bin/python bench/parsers.py                 # n=2000, seed 1
    .venv/bin/python bench/parsers.py -n 500 --parsers tierdesk,fast_mail_parser

Parsers: tierdesk's `parse_mail` (a stdlib compat32 walk; headers decoded by
parsers/headers.py), mail-parser's `parse_from_bytes` (what `parse_mail` used
before issue 10), the stdlib
`email` package with compat32 and with policy.default (parse, decode Subject
and From, walk the parts for text/plain and text/html and the attachments'
bytes), and fast-mail-parser when it is installed (skipped otherwise).

Corpora: the generated benchmark corpus (bench/corpus.py), a hostile one made
from it by bench/mutations.py (every mutation on a sample of messages, plus the
fixed extreme cases), a few tricky but legitimate probe messages, and one
25 MiB message with a 20 MiB (base64) attachment. Each parser runs each corpus
in a worker process of its own, under an address-space limit; the parent kills
a worker whose message runs past the time limit (a hang) and restarts it after
that message, and a worker that dies counts as a crash. Each extreme case gets
a fresh worker. Peak RSS is the worker's VmHWM, reset before each message, so
a message's peak is its own (plus what the process already held). Nothing here
asserts a timing.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import generate
from bench.extreme_mail import large_attachment_message
from bench.parser_adapters import LOADERS, PARSERS, SHOWN, TINY, Extract, Step
from bench.parser_probes import hostile_corpus, probe_messages, write_corpus
from bench.parser_report import report, versions
from bench.parser_run import Run, peak_rss_kib, reset_peak_rss, run_parser

# --- the worker process --------------------------------------------------------


def _digest(text: str) -> str:
    """A short hash of text, whitespace-normalised (lone surrogates allowed)."""
    normal = " ".join(text.split()).encode("utf-8", "surrogatepass")
    return hashlib.sha1(normal).hexdigest()[:16]


def _record(index: int, seconds: float, got: Extract | None, error: str) -> dict:
    """The JSON record a worker sends for one message."""
    record: dict = {"i": index, "t": seconds}
    if got is None:
        record["error"] = error
        return record
    record.update(
        subject=got.subject[:SHOWN],
        subject_len=len(got.subject),
        subject_sha=_digest(got.subject),
        from_addr=got.from_addr[:SHOWN],
        to_count=got.to_count,
        text=" ".join(got.text[: SHOWN * 4].split())[:SHOWN],
        text_len=len(got.text),
        text_sha=_digest(got.text),
        html_len=len(got.html),
        sizes=[size for _, size in got.attachments],
        names=[name[:80] for name, _ in got.attachments[:20]],
        notes=sorted(set(got.notes)),
    )
    return record


def worker(
    parser: str, folder: Path, span: tuple[int, int], fd: int, memory_gib: float
) -> None:
    """Parse messages start <= i < stop, sending a start line and a record for each."""
    limit = int(memory_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    run = LOADERS[parser]()
    run(TINY)  # warm-up: lazy imports, caches
    index = json.loads((folder / "index.json").read_text())
    with (
        open(fd, "w", buffering=1, encoding="utf-8") as out,
        open(folder / "data.bin", "rb") as data,
    ):
        reset_peak_rss()
        out.write(json.dumps({"baseline_kib": peak_rss_kib()}) + "\n")
        for i in range(*span):
            offset, length = index[i]
            data.seek(offset)
            raw = data.read(length)
            out.write(json.dumps({"start": i}) + "\n")
            reset_peak_rss()
            error, got = "", None
            began = time.perf_counter()
            try:
                got = run(raw)
            except BaseException as exc:  # pyo3's PanicException is a BaseException
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                error = f"{Step.name}: {type(exc).__name__}"
            seconds = time.perf_counter() - began
            record = _record(i, seconds, got, error)
            record["peak_kib"] = peak_rss_kib()
            out.write(json.dumps(record) + "\n")
            del raw, got


def main() -> None:
    """Build the corpora, run every available parser over each, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000, help="normal corpus size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hostile-base", type=int, default=200, help="messages mutated")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per message")
    ap.add_argument("--memory-gib", type=float, default=4.0, help="worker RLIMIT_AS")
    ap.add_argument("--parsers", default=",".join(PARSERS))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--span", default="0:0", help=argparse.SUPPRESS)
    ap.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        first, stop = (int(x) for x in args.span.split(":"))
        worker(args.worker, args.corpus, (first, stop), args.fd, args.memory_gib)
        return

    parsers = [p for p in args.parsers.split(",") if p in PARSERS]
    if "tierdesk" not in parsers:
        parsers.insert(0, "tierdesk")  # the reference for the agreement figures
    if "fast_mail_parser" in parsers and not importlib.util.find_spec(
        "fast_mail_parser"
    ):
        print(
            "fast-mail-parser is not installed: skipped (pip install fast-mail-parser)"
        )
        parsers.remove("fast_mail_parser")
    print(versions())
    print(
        f"time limit {args.timeout:g} s per message, RLIMIT_AS {args.memory_gib:g} GiB"
    )

    normal = generate(args.n, args.seed)
    hostile = hostile_corpus(normal, args.hostile_base, args.seed)
    probe = probe_messages()
    large = [large_attachment_message()]
    # The extreme cases run in a fresh worker each, so each peak RSS is its own.
    extreme = frozenset(i for i, (n, _) in enumerate(hostile) if n.startswith("ex"))
    corpora = {
        "normal": (normal, frozenset()),
        "hostile": ([data for _, data in hostile], extreme),
        "probes": ([data for _, data in probe], frozenset()),
        "large": (large, frozenset()),
    }
    limits = (args.timeout, args.memory_gib)
    runs: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-parsers-") as tmp:
        for corpus, (messages, isolated) in corpora.items():
            folder = write_corpus(messages, Path(tmp, corpus))
            runs[corpus] = [
                run_parser(p, folder, len(messages), limits, isolated) for p in parsers
            ]
    report(args, runs, [name for name, _ in hostile], [name for name, _ in probe])
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
