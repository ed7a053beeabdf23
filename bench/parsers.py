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
import platform
import random
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import generate
from bench.mutations import extreme_cases, large_attachment_message, mutations

PARSERS = (
    "tierdesk",
    "mail_parser",
    "stdlib_compat32",
    "stdlib_default",
    "fast_mail_parser",
)
SHOWN = 200  # characters of a subject or text kept in a worker's record
TINY = (
    b"From: A <a@example.com>\nTo: b@example.com\nSubject: warm-up\n"
    b"Content-Type: text/plain; charset=utf-8\n\nHello.\n"
)


# --- what every parser must produce ------------------------------------------


@dataclass
class Extract:
    """The fields compared across parsers, as one parser produced them."""

    subject: str
    from_addr: str
    to_count: int
    text: str
    html: str
    attachments: list[tuple[str, int]]  # (filename, decoded size)
    notes: list[str] = field(default_factory=list)  # fallbacks, warnings


class Step:
    """The step an adapter is in, so an exception's kind says where it came from."""

    name = "parse"


def _tierdesk() -> Callable[[bytes], Extract]:
    """tierdesk's `parse_mail` as it is; notes are its internal fallbacks."""
    import re

    from tierdesk.parsers.parse import parse_mail

    fallback = re.compile(
        r"^(parser failed: \w+|mail-parser failed \(\w+|MIME nesting too deep)"
    )

    def run(raw: bytes) -> Extract:
        """Parse with `parse_mail` and keep the compared fields."""
        mail = parse_mail(raw)
        notes = [m.group(1) for d in mail.defects if (m := fallback.match(d))]
        return Extract(
            mail.subject,
            mail.from_.email if mail.from_ else "",
            len(mail.to),
            mail.text,
            mail.html or "",
            [(a.filename, len(a.data)) for a in mail.attachments],
            notes,
        )

    return run


def _decode_body(data: bytes, charset: str | None) -> str:
    """Decode a text part's bytes in its charset; unknown charsets fall back to UTF-8."""
    try:
        return data.decode(charset or "us-ascii", "replace")
    except (LookupError, ValueError):  # ValueError: a NUL in the charset name
        return data.decode("utf-8", "replace")


def _stdlib_compat32() -> Callable[[bytes], Extract]:
    """The stdlib with compat32: decode_header/make_header, parseaddr, get_payload."""
    from email import message_from_bytes
    from email.header import decode_header, make_header
    from email.policy import compat32
    from email.utils import getaddresses, parseaddr

    def run(raw: bytes) -> Extract:
        """Parse, decode Subject/From/To, walk the leaves for bodies and attachments."""
        Step.name = "parse"
        msg = message_from_bytes(raw, policy=compat32)
        Step.name = "headers"
        value = msg.get("subject")
        subject = str(make_header(decode_header(value))) if value is not None else ""
        from_addr = parseaddr(str(msg.get("from", "")))[1]
        to_count = len(getaddresses([str(v) for v in msg.get_all("to", [])]))
        Step.name = "bodies"
        plain, html, attachments = [], [], []
        for part in msg.walk():
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            data = part.get_payload(decode=True) or b""
            if ctype in ("text/plain", "text/html") and (
                part.get_content_disposition() != "attachment"
            ):
                text = _decode_body(data, part.get_content_charset())
                (plain if ctype == "text/plain" else html).append(text)
            else:
                attachments.append((part.get_filename() or "", len(data)))
        return Extract(
            subject, from_addr, to_count, "\n".join(plain), "\n".join(html), attachments
        )

    return run


def _stdlib_default() -> Callable[[bytes], Extract]:
    """The stdlib with policy.default: header objects, get_content, get_payload."""
    from email.parser import BytesParser
    from email.policy import default

    parser = BytesParser(policy=default)

    def run(raw: bytes) -> Extract:
        """Parse, read Subject/From/To once each, walk the leaves."""
        Step.name = "parse"
        msg = parser.parsebytes(raw)
        Step.name = "headers"
        subject = str(msg.get("subject", ""))
        sender = msg.get("from")
        found = sender.addresses if sender is not None else ()
        from_addr = found[0].addr_spec if found else ""
        to = msg.get("to")
        to_count = len(to.addresses) if to is not None else 0
        Step.name = "bodies"
        plain, html, attachments = [], [], []
        for part in msg.walk():
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            if ctype in ("text/plain", "text/html") and (
                part.get_content_disposition() != "attachment"
            ):
                try:
                    text = part.get_content()
                except (LookupError, ValueError):  # unknown charset, NUL in its name
                    data = part.get_payload(decode=True) or b""
                    text = data.decode("utf-8", "replace")
                (plain if ctype == "text/plain" else html).append(text)
            else:
                data = part.get_payload(decode=True) or b""
                attachments.append((part.get_filename() or "", len(data)))
        return Extract(
            subject, from_addr, to_count, "\n".join(plain), "\n".join(html), attachments
        )

    return run


def _mail_parser() -> Callable[[bytes], Extract]:
    """mail-parser's `parse_from_bytes`, as tierdesk used it before issue 10."""
    import base64

    import mailparser

    def run(raw: bytes) -> Extract:
        """Parse once and read its properties; attachments' payloads are base64 strings."""
        mail = mailparser.parse_from_bytes(raw)
        sender = mail.from_[0][1] if mail.from_ else ""
        attachments = [
            (
                a.get("filename") or "",
                len(
                    base64.b64decode(a["payload"]) if a.get("binary") else a["payload"]
                ),
            )
            for a in mail.attachments
        ]
        subject = mail.subject if isinstance(mail.subject, str) else str(mail.subject)
        return Extract(
            subject,
            sender,
            len(mail.to),
            "\n".join(mail.text_plain),
            "\n".join(mail.text_html),
            attachments,
            list(mail.defects_categories),
        )

    return run


def _fast_mail_parser() -> Callable[[bytes], Extract]:
    """fast-mail-parser's `parse_email` (full mode); notes are its warning kinds."""
    from fast_mail_parser import parse_email

    def run(raw: bytes) -> Extract:
        """Parse once and read the flat projection."""
        mail = parse_email(raw)
        return Extract(
            mail.subject,
            mail.from_.address if mail.from_ else "",
            len(mail.to),
            "\n".join(mail.text_plain),
            "\n".join(mail.text_html),
            [(a.filename, len(a.content)) for a in mail.attachments],
            [w.kind for w in mail.warnings],
        )

    return run


LOADERS: dict[str, Callable[[], Callable[[bytes], Extract]]] = {
    "tierdesk": _tierdesk,
    "mail_parser": _mail_parser,
    "stdlib_compat32": _stdlib_compat32,
    "stdlib_default": _stdlib_default,
    "fast_mail_parser": _fast_mail_parser,
}


# --- corpora -----------------------------------------------------------------


def hostile_corpus(
    normal: list[bytes], base: int, seed: int
) -> list[tuple[str, bytes]]:
    """Every mutation of `base` messages spread over `normal`, then the extreme cases."""
    step = max(1, len(normal) // max(base, 1))
    out = []
    for index in range(0, len(normal), step)[:base]:
        rng = random.Random(seed * 1_000_003 + index)
        out += list(mutations(normal[index], rng))
    return out + [(f"extreme:{name}", data) for name, data in extreme_cases()]


def probe_messages() -> list[tuple[str, bytes]]:
    """Legitimate but tricky messages on which parsers are known to differ."""
    head = (
        b"From: Alice <alice@customer.example>\nTo: support@example.com\n"
        b"Message-ID: <probe@customer.example>\nMIME-Version: 1.0\n"
    )

    def mixed(subject: bytes, *parts: bytes) -> bytes:
        """A multipart/mixed message of a plain text part and `parts`."""
        body = b"--p\nContent-Type: text/plain; charset=utf-8\n\nSee attached.\n"
        body += b"".join(b"--p\n" + p + b"\n" for p in parts)
        ctype = b'Content-Type: multipart/mixed; boundary="p"\n\n'
        return head + b"Subject: " + subject + b"\n" + ctype + body + b"--p--\n"

    def single(subject: bytes, ctype: bytes, body: bytes, extra: bytes = b"") -> bytes:
        """A single-part message with the given Content-Type and body."""
        return head + b"Subject: " + subject + b"\n" + extra + ctype + b"\n\n" + body

    pdf = b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
    return [
        (
            "rfc2231_filename",
            mixed(
                b"RFC 2231 name",
                pdf + b"Content-Disposition: attachment; filename*=utf-8''"
                b"%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf\n\nJVBERi0xLjQK",
            ),
        ),
        (
            "rfc2231_continuations",
            mixed(
                b"RFC 2231 continuations",
                pdf + b"Content-Disposition: attachment;\n filename*0*=utf-8''"
                b'Rechnung%20M%C3%A4rz;\n filename*1="_2026.pdf"\n\nJVBERi0xLjQK',
            ),
        ),
        (
            "rfc2047_filename",
            mixed(
                b"RFC 2047 name (Outlook)",
                pdf + b'Content-Disposition: attachment; filename="=?utf-8?b?'
                b'0L7RgtGH0ZHRgi5wZGY=?="\n\nJVBERi0xLjQK',
            ),
        ),
        (
            "unknown_charset",
            single(
                b"Unknown charset",
                b"Content-Type: text/plain; charset=x-mac-klingon",
                "Grüße, Привет\n".encode(),
            ),
        ),
        (
            "utf8_labelled_latin1",
            single(
                b"Mislabelled charset",
                b"Content-Type: text/plain; charset=utf-8",
                "Grüße aus Köln\n".encode("latin-1"),
            ),
        ),
        (
            "no_charset_8bit_body",
            single(b"No charset", b"Content-Type: text/plain", "Grüße\n".encode()),
        ),
        (
            "raw_latin1_subject",
            single(
                b"Probl\xe8me urgent =?utf-8?q?=F0=9F=98=80?=",
                b"Content-Type: text/plain; charset=iso-8859-1",
                b"Corps\n",
            ),
        ),
        (
            "raw_utf8_subject",
            single(
                "Проблема с входом".encode(),
                b"Content-Type: text/plain; charset=utf-8",
                b"Body\n",
            ),
        ),
        (
            "split_multibyte_words",
            single(
                b"=?utf-8?q?=D0?= =?utf-8?q?=9F=D1=80=D0=B8?=\n =?utf-8?q?_=D0=B2?=",
                b"Content-Type: text/plain",
                b"Body\n",
            ),
        ),
        (
            "unknown_charset_word",
            single(
                b"=?x-unknown?q?Caf=E9?= ok",
                b"Content-Type: text/plain",
                b"Body\n",
            ),
        ),
        (
            "from_quoted_comma",
            single(
                b"Comments",
                b"Content-Type: text/plain",
                b"Body\n",
                b'Reply-To: "Smith, Alice" (work) <alice@customer.example>\n',
            ).replace(
                b"From: Alice <alice@customer.example>",
                b'From: "Smith, Alice" (work) <alice@customer.example>',
            ),
        ),
        (
            "latin1_text_attachment",
            mixed(
                b"Text attachment",
                b"Content-Type: text/plain; charset=iso-8859-1\n"
                b'Content-Disposition: attachment; filename="notes.txt"\n'
                b"Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe\n",
            ),
        ),
        (
            "text_part_with_name",
            mixed(
                b"Named text part",
                b'Content-Type: text/plain; charset=utf-8; name="log.txt"\n\n'
                b"line 1\nline 2\n",
            ),
        ),
        (
            "inline_image_cid",
            mixed(
                b"Inline image",
                b"Content-Type: image/png\nContent-ID: <img1@x>\n"
                b"Content-Transfer-Encoding: base64\n\niVBORw0KGgo=",
            ),
        ),
        (
            "forwarded_rfc822",
            mixed(
                b"Fwd: original",
                b"Content-Type: message/rfc822\n\n"
                b"From: Bob <bob@x.example>\nSubject: Inner\n"
                b"Content-Type: text/plain\n\nInner body\n",
            ),
        ),
    ]


def write_corpus(messages: list[bytes], folder: Path) -> Path:
    """Store messages as one data file plus an index of (offset, length); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    index = []
    with open(folder / "data.bin", "wb") as data:
        for raw in messages:
            index.append((data.tell(), len(raw)))
            data.write(raw)
    (folder / "index.json").write_text(json.dumps(index))
    return folder


# --- the worker process --------------------------------------------------------


def _digest(text: str) -> str:
    """A short hash of text, whitespace-normalised (lone surrogates allowed)."""
    normal = " ".join(text.split()).encode("utf-8", "surrogatepass")
    return hashlib.sha1(normal).hexdigest()[:16]


def peak_rss_kib(pid: int | str = "self") -> int:
    """The process's peak RSS since exec or the last reset (VmHWM), in KiB; 0 if gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> None:
    """Reset this process's VmHWM to its current RSS (Linux clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


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


# --- the parent: run workers, watch them -----------------------------------------


@dataclass
class Run:
    """One parser over one corpus: records per message, hangs, crashes, memory."""

    parser: str
    count: int
    records: dict[int, dict] = field(default_factory=dict)
    hangs: list[int] = field(default_factory=list)
    hang_peaks: dict[int, int] = field(default_factory=dict)  # KiB when killed
    crashes: list[tuple[int, str]] = field(default_factory=list)
    baseline_kib: int = 0
    wall: float = 0.0

    @property
    def peak_kib(self) -> int:
        """The highest per-message peak RSS of the run, hangs included (KiB)."""
        peaks = [r.get("peak_kib", 0) for r in self.records.values()]
        return max([*peaks, *self.hang_peaks.values(), self.baseline_kib])

    def times(self) -> list[float]:
        """Seconds per message, for the messages that finished (with or without error)."""
        return [r["t"] for r in self.records.values()]

    def errors(self) -> Counter[str]:
        """Exception kinds and how often each was raised."""
        return Counter(r["error"] for r in self.records.values() if "error" in r)

    def notes(self) -> Counter[str]:
        """Fallback or warning notes (tierdesk, fast-mail-parser) and their counts."""
        return Counter(n for r in self.records.values() for n in r.get("notes", ()))


def _lines(fd: int, timeout: float, buffer: bytearray) -> tuple[list[bytes], bool]:
    """Read what the worker sent within `timeout` s: (complete lines, pipe closed)."""
    ready, _, _ = select.select([fd], [], [], max(timeout, 0.0))
    if not ready:
        return [], False
    chunk = os.read(fd, 1 << 16)
    if not chunk:
        return [], True
    buffer += chunk
    *lines, rest = bytes(buffer).split(b"\n")
    buffer[:] = rest
    return lines, False


def _spawn(
    parser: str, folder: Path, span: tuple[int, int], memory_gib: float
) -> tuple[subprocess.Popen, int]:
    """Start a worker on messages span[0] <= i < span[1]; returns it and its pipe."""
    read_end, write_end = os.pipe()
    command = [sys.executable, __file__, "--worker", parser, "--corpus", str(folder)]
    command += ["--span", f"{span[0]}:{span[1]}", "--fd", str(write_end)]
    command += ["--memory-gib", str(memory_gib)]
    proc = subprocess.Popen(
        command,
        pass_fds=(write_end,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    return proc, read_end


def _watch(
    proc: subprocess.Popen, fd: int, timeout: float, result: Run
) -> tuple[int | None, bool]:
    """Collect a worker's records until it ends or overruns; (message it was on, hung)."""
    buffer = bytearray()
    current: int | None = None
    deadline = time.monotonic() + 120  # start-up
    closed = False
    while not closed:
        lines, closed = _lines(fd, deadline - time.monotonic(), buffer)
        for line in lines:
            message = json.loads(line)
            if "start" in message:
                current = message["start"]
                deadline = time.monotonic() + timeout
            elif "baseline_kib" in message:
                result.baseline_kib = max(result.baseline_kib, message["baseline_kib"])
            else:
                result.records[message["i"]] = message
                current = None
                deadline = time.monotonic() + 120
        if not closed and time.monotonic() > deadline:
            if current is not None:
                result.hang_peaks[current] = peak_rss_kib(proc.pid)
            proc.kill()  # the worker we started; nothing else
            return current, True
    return current, False


def _reap(proc: subprocess.Popen) -> str:
    """Wait for a worker; returns how it ended (exit code or signal name)."""
    code = proc.wait()
    return signal.Signals(-code).name if code < 0 else f"exit {code}"


def run_parser(
    parser: str,
    folder: Path,
    count: int,
    limits: tuple[float, float],
    isolated: frozenset[int] = frozenset(),
) -> Run:
    """Run one parser over a stored corpus; `isolated` messages get a fresh worker each.

    limits = (seconds per message, GiB of address space). A worker is restarted
    after the message it hung or crashed on.
    """
    timeout, memory_gib = limits
    result = Run(parser, count)
    began = time.perf_counter()
    start = 0
    while start < count:
        later = [i for i in isolated if i > start]
        stop = start + 1 if start in isolated else min([*later, count])
        proc, fd = _spawn(parser, folder, (start, stop), memory_gib)
        try:
            current, hung = _watch(proc, fd, timeout, result)
        finally:
            os.close(fd)
        how = _reap(proc)
        if current is None:
            if stop - 1 not in result.records:  # died between messages: our fault
                raise RuntimeError(f"{parser} worker ended early ({how})")
            start = stop
        elif hung:
            result.hangs.append(current)
            start = current + 1
        else:
            result.crashes.append((current, how))
            start = current + 1
    result.wall = time.perf_counter() - began
    return result


# --- report ----------------------------------------------------------------------


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


if __name__ == "__main__":
    main()
