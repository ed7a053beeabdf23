"""The tables `bench/parsers.py` prints from what its workers recorded."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import platform
import statistics
from collections import Counter, defaultdict

from bench.parser_run import Run


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        """One row, padded to the column widths."""
        first = str(cells[0]).ljust(widths[0])
        rest = [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def _quantile(values: list[float], q: float) -> float:
    """The q-quantile of values (nearest rank), or 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _mib(kib: int) -> str:
    """KiB as MiB with one decimal."""
    return f"{kib / 1024:.1f}"


def _shown(text: object, width: int = 60) -> str:
    """A value as a short, printable, single-line repr."""
    shown = repr(text)
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def speed_table(runs: list[Run]) -> str:
    """Messages/s, latency quantiles, failures and memory for each parser's run."""
    rows = []
    for run in runs:
        times = run.times()
        total = sum(times)
        errors = sum(run.errors().values())
        notes = sum(1 for r in run.records.values() if r.get("notes"))
        rows.append(
            [
                run.parser,
                f"{len(times) / total:,.0f}" if total else "-",
                f"{statistics.median(times) * 1e3:.3f}" if times else "-",
                f"{_quantile(times, 0.99) * 1e3:.2f}",
                f"{max(times, default=0.0) * 1e3:.0f}",
                str(errors),
                str(len(run.hangs)),
                str(len(run.crashes)),
                str(notes),
                _mib(run.peak_kib),
                _mib(run.baseline_kib),
                f"{run.wall:.1f}",
            ]
        )
    headers = ["parser", "msg/s", "p50 ms", "p99 ms", "max ms", "exceptions"]
    headers += ["hangs", "crashes", "noted", "peak RSS MiB", "base MiB", "wall s"]
    return _table(headers, rows)


def error_kinds(runs: list[Run]) -> str:
    """Each parser's exception kinds (step: type) with counts, and its noted fallbacks."""
    lines = []
    for run in runs:
        kinds = ", ".join(f"{k} ×{n}" for k, n in run.errors().most_common()) or "none"
        lines.append(f"  {run.parser}: exceptions: {kinds}")
        notes = ", ".join(f"{k} ×{n}" for k, n in run.notes().most_common(8))
        if notes:
            lines.append(f"  {run.parser}: noted (no exception): {notes}")
        for index, how in run.crashes[:5]:
            lines.append(f"  {run.parser}: crash ({how}) on message {index}")
    return "\n".join(lines)


def outcome(run: Run, index: int) -> str:
    """How one message went for one parser: HANG, CRASH, an exception, or ok."""
    if index in run.hangs:
        return "HANG"
    crashed = dict(run.crashes)
    if index in crashed:
        return f"CRASH {crashed[index]}"
    record = run.records.get(index)
    if record is None:
        return "?"
    if "error" in record:
        return record["error"].split(": ", 1)[-1]
    return "ok"


def short_note(note: str) -> str:
    """A tierdesk fallback note, shortened for a table cell."""
    note = note.replace("mail-parser failed (", "mp-failed:")
    return note.replace("MIME nesting too deep", "too-deep")


def by_mutation(runs: list[Run], names: list[str]) -> str:
    """Per mutation, how many messages each parser failed on (exception/hang/crash)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, name in enumerate(names):
        if not name.startswith("extreme:"):
            groups[name].append(index)
    rows = []
    for name, indexes in groups.items():
        cells = []
        for run in runs:
            failed = Counter(outcome(run, i) for i in indexes)
            failed.pop("ok", None)
            if run.parser == "tierdesk":  # its fallbacks lose the attachments
                notes = Counter(
                    n for i in indexes for n in run.records.get(i, {}).get("notes", ())
                )
                failed.update({short_note(k): n for k, n in notes.items()})
            cells.append(" ".join(f"{k}×{n}" for k, n in failed.most_common(3)) or "-")
        rows.append([f"{name} ({len(indexes)})", *cells])
    return _table(["mutation (messages)", *(r.parser for r in runs)], rows)


def extremes(runs: list[Run], names: list[str]) -> str:
    """Per extreme case: each parser's outcome, time and peak RSS, then what it extracted."""
    cases = [(i, n.removeprefix("extreme:")) for i, n in enumerate(names)]
    cases = [(i, n) for i, n in cases if names[i].startswith("extreme:")]
    timing, extracted = [], []
    for index, name in cases:
        cells, found = [], []
        for run in runs:
            record = run.records.get(index, {})
            state = outcome(run, index)
            if state == "ok" and record.get("notes"):
                state = "/".join(short_note(n) for n in record["notes"])
            peak = record.get("peak_kib") or run.hang_peaks.get(index, 0)
            seconds = f" {record['t']:.2f}s" if "t" in record else ""
            cells.append(f"{state}{seconds} {_mib(peak)}M" if peak else state)
            found.append(
                f"s{record['subject_len']} to{record['to_count']}"
                f" a{len(record['sizes'])} t{record['text_len']}"
                if "error" not in record and record
                else "-"
            )
        timing.append([name, *cells])
        extracted.append([name, *found])
    headers = ["extreme case", *(r.parser for r in runs)]
    return (
        _table(headers, timing)
        + "\n\nwhat each extracted (s=subject chars, to=recipients, a=attachments,"
        + " t=text chars):\n"
        + _table(headers, extracted)
    )


FIELDS = ("subject", "from", "text", "attachments")


def agreement(base: dict, other: dict) -> dict[str, bool]:
    """Which compared fields of a record agree with tierdesk's record."""
    if "error" in base or "error" in other:
        return dict.fromkeys(FIELDS, False)
    return {
        "subject": base["subject_sha"] == other["subject_sha"],
        "from": base["from_addr"] == other["from_addr"],
        "text": base["text_sha"] == other["text_sha"],
        "attachments": base["sizes"] == other["sizes"],
    }


def correctness(runs: list[Run], labels: list[str]) -> tuple[str, list[str]]:
    """Agreement with tierdesk per field and parser, and examples of disagreement.

    Counts the messages both parsed without an exception (extreme cases left out);
    labels[i] names message i's mutation ("" in the normal corpus).
    """
    base = runs[0]
    rows, examples = [], []
    for run in runs[1:]:
        agreed: Counter[str] = Counter()
        shown: dict[str, set[str]] = defaultdict(set)
        for index, label in enumerate(labels):
            mine, theirs = base.records.get(index, {}), run.records.get(index, {})
            if label.startswith("extreme:") or not mine or not theirs:
                continue
            if "error" in mine or "error" in theirs:
                continue
            verdict = agreement(mine, theirs)
            agreed.update(f for f, ok in verdict.items() if ok)
            agreed["all four"] += all(verdict.values())
            agreed["both parsed"] += 1
            for name, ok in verdict.items():
                if not ok and len(shown[name]) < 2 and label not in shown[name]:
                    shown[name].add(label)
                    examples.append(describe(index, label, name, mine, run))
        both = agreed["both parsed"]
        cells = [f"{agreed[f]}/{both}" for f in (*FIELDS, "all four")]
        rows.append([run.parser, str(both), *cells])
    headers = ["vs tierdesk", "both parsed", *FIELDS, "all four"]
    return _table(headers, rows), examples


def describe(index: int, label: str, name: str, base: dict, run: Run) -> str:
    """One disagreement: the field, tierdesk's value and the other parser's."""
    other = run.records[index]
    key = {"subject": "subject", "from": "from_addr", "text": "text"}.get(name, "sizes")
    where = f"msg {index}" + (f" ({label})" if label else "")
    return (
        f"  {where} {name}: tierdesk {_shown(base.get(key))}"
        f" / {run.parser} {_shown(other.get(key))}"
    )


def probes(runs: list[Run], names: list[str]) -> str:
    """Each probe message: what every parser made of it, where it differs from tierdesk."""
    lines = []
    for index, name in enumerate(names):
        lines.append(f"  {name}:")
        base = runs[0].records.get(index, {})
        for run in runs:
            record = run.records.get(index, {})
            if "error" in record or not record:
                lines.append(f"    {run.parser:17} {outcome(run, index)}")
                continue
            same = agreement(base, record) if run is not runs[0] else {}
            differs = ",".join(f for f, ok in same.items() if not ok)
            attachments = list(zip(record["names"], record["sizes"], strict=False))
            lines.append(
                f"    {run.parser:17} subj={_shown(record['subject'], 44)}"
                f" from={record['from_addr']!r} text={_shown(record['text'], 30)}"
                f" att={_shown(attachments, 70)}"
                + (f"  [differs: {differs}]" if differs else "")
            )
    return "\n".join(lines)


def versions() -> str:
    """Python and library versions, machine and load."""
    found = []
    for dist in ("mail-parser", "fast-mail-parser"):
        try:
            found.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{dist} not installed")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"Python {platform.python_version()}, {', '.join(found)}; "
        f"{os.cpu_count()} CPUs, load average {load}"
    )


def report(
    args: argparse.Namespace,
    runs: dict[str, list[Run]],
    hostile_names: list[str],
    probe_names: list[str],
) -> None:
    """Print every table."""
    print(f"\n== normal corpus: generate({args.n}, seed={args.seed}) ==")
    print(speed_table(runs["normal"]))
    print(error_kinds(runs["normal"]))
    table, examples = correctness(runs["normal"], [""] * args.n)
    print(
        "\n== agreement with tierdesk, normal corpus (subject, text whitespace-normalised) =="
    )
    print(table)
    print("\n".join(examples) or "  no disagreements")

    print(f"\n== hostile corpus: {len(hostile_names)} messages ==")
    print(speed_table(runs["hostile"]))
    print(error_kinds(runs["hostile"]))
    table, examples = correctness(runs["hostile"], hostile_names)
    print("\n== hostile: agreement with tierdesk where both parsed (no extremes) ==")
    print(table)
    print("\n".join(examples) or "  no disagreements")
    print("\n== hostile: failures per mutation (exception kind/HANG/CRASH × count) ==")
    print(by_mutation(runs["hostile"], hostile_names))
    print("\n== hostile: extreme cases (outcome or what was extracted; time) ==")
    print(extremes(runs["hostile"], hostile_names))

    print("\n== 25 MiB message, 20 MiB base64 attachment (15 MiB decoded) ==")
    rows = []
    for run in runs["large"]:
        record = run.records.get(0, {})
        rows.append(
            [
                run.parser,
                f"{record['t']:.2f}" if "t" in record else outcome(run, 0),
                outcome(run, 0),
                _mib(run.peak_kib),
                _mib(run.baseline_kib),
                _mib(run.peak_kib - run.baseline_kib),
            ]
        )
    print(
        _table(["parser", "seconds", "outcome", "peak MiB", "base MiB", "growth"], rows)
    )

    print("\n== probes: tricky legitimate messages ==")
    print(probes(runs["probes"], probe_names))
    print(
        "\nmsg/s and p50/p99 count the messages that finished (raised or not), "
        "timed inside the worker; hangs are excluded. base MiB is the worker's "
        "RSS after imports and warm-up; noted = messages with a fallback (tierdesk) "
        "or a warning (fast-mail-parser)."
    )
