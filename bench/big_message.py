"""Big messages: peak memory of one 25 MiB message, and the cost of huge headers.

    .venv/bin/python bench/big_message.py memory        # 25 MiB, 20 MiB base64 attachment
    .venv/bin/python bench/big_message.py memory --parse-workers 0
    .venv/bin/python bench/big_message.py headers       # 10k/20k/40k encoded words ...

`memory` runs `tierdesk run` (SQLite in a temporary directory), sends the
message over SMTP, waits until the pipeline has made it a ticket, and prints
the peak RSS (VmHWM) of the daemon's main process and of each parse worker,
each reset to the current RSS just before the message is sent, so the figure
is what the message cost on top of an idle daemon (and the idle RSS beside
it). The message is 25 MiB on the wire, CRLF line ends included, which is the
default `max_message_size`.

`headers` builds messages with 10,000, 20,000 and 40,000 encoded words in the
Subject and in the From display name, a To of that many recipients, and a
1/2/4 MiB header line, and times `parse_mail` alone, without caps (so a
linear step shows about twice the time for twice the words) and with the
default ones, and the whole pipeline in-process (parse_workers 0, default
caps, a fresh SQLite database per message, in a child process that is
stopped after --limit seconds).

Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import base64
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tierdesk.daemon.config import (
    Config,
    OutgoingConfig,
    PipelineConfig,
    StorageConfig,
    SupportConfig,
)
from tierdesk.daemon.runtime import open_runtime
from tierdesk.parsers.parse import parse_mail
from tierdesk.parsers.parsed import ParseLimits
from tierdesk.rules.yamlschema import Duration
from tierdesk.storage import spool
from tierdesk.storage.db import open_database
from tierdesk.storage.models import SpoolItem

from tests.support.daemon_process import DaemonProcess, wait_until

MIB = 2**20
NO_CAPS = ParseLimits(10**9, 10**9, 10**9, 10**9, 10**12)
HEAD = (
    b"From: Anna Berg <anna@customer.example>\r\n"
    b"To: ACME Support <support@example.com>\r\n"
    b"Subject: SUBJECT\r\n"
    b"Date: Mon, 02 Nov 2026 08:00:00 +0000\r\n"
    b"Message-ID: <big.1@customer.example>\r\n"
    b"MIME-Version: 1.0\r\n"
)


# --- the 25 MiB message -------------------------------------------------------


def big_message(total: int = 25 * MIB, attachment_wire: int = 20 * MIB) -> bytes:
    """`total` bytes with CRLF line ends: a text part filling what a base64 attachment of `attachment_wire` bytes leaves."""
    rng = random.Random(25)
    lines = attachment_wire // 78  # 76 characters and CRLF
    data = rng.randbytes(lines * 57)
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    head = HEAD.replace(b"SUBJECT", b"A 20 MiB attachment") + (
        b'Content-Type: multipart/mixed; boundary="big"\r\n\r\n--big\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    tail = (
        b"\r\n--big\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="dump.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--big--\r\n"
    )
    line = b"A log line of a long text body, repeated to fill the message.\r\n"
    filler = total - len(head) - len(tail)
    text = line * (filler // len(line))
    text += b"x" * (filler - len(text) - 2) + b"\r\n"
    return head + text + tail


def children(pid: int) -> list[int]:
    """Every descendant of `pid`."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *children(int(child))]
    return found


def status(pid: int, field: str) -> int:
    """A /proc/<pid>/status figure in KiB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def role(pid: int) -> str:
    """What a process of the daemon is, from its command line."""
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    if b"resource_tracker" in cmd:
        return "resource tracker"
    if b"multiprocessing" in cmd or b"parse_worker" in cmd:
        return "parse worker"
    return cmd.decode(errors="replace")[:40]


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current RSS (Linux: clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def memory(args: argparse.Namespace) -> None:
    """Peak RSS of the daemon's processes for one 25 MiB message, end to end over SMTP."""
    raw = big_message()
    work = Path(tempfile.mkdtemp(prefix="tierdesk-big-", dir=args.dir))
    daemon = DaemonProcess(
        work,
        f"sqlite:///{work / 'tierdesk.db'}",
        extra_yaml=f"pipeline:\n  parse_workers: {args.parse_workers}\n",
    )
    try:
        daemon.start()
        time.sleep(2)  # the parse workers start after the listener
        pids = [daemon.proc.pid, *children(daemon.proc.pid)]
        idle = {pid: status(pid, "VmRSS") for pid in pids}
        for pid in pids:
            reset_peak(pid)
        start = time.perf_counter()
        with __import__("smtplib").SMTP("127.0.0.1", daemon.port, timeout=300) as smtp:
            smtp.sendmail("anna@customer.example", ["support@example.com"], raw)
        accepted = time.perf_counter() - start
        at_250 = {pid: status(pid, "VmHWM") for pid in pids}
        db = open_database(f"sqlite:///{work / 'tierdesk.db'}")

        def processed() -> bool:
            return SpoolItem.select().where(SpoolItem.state != "new").count() > 0

        with db.bind_ctx([SpoolItem]):
            wait_until(processed, timeout=600, interval=0.05, message="the ticket")
            item = SpoolItem.get()
        done = time.perf_counter() - start
        print(
            f"message: {len(raw)} bytes on the wire ({len(raw) / MIB:.2f} MiB), "
            f"spooled {item.size} bytes; outcome {item.state}/{item.outcome} {item.error}"
        )
        print(f"parse_workers: {args.parse_workers}")
        print(f"250 after {accepted:.2f} s; processed after {done:.2f} s")
        print(
            f"{'process':<18}{'pid':>8}{'idle RSS':>12}{'peak at 250':>13}"
            f"{'peak RSS':>12}{'growth':>10}"
        )
        for pid in [daemon.proc.pid, *children(daemon.proc.pid)]:
            name = "daemon (main)" if pid == daemon.proc.pid else role(pid)
            peak = status(pid, "VmHWM")
            base = idle.get(pid, 0)
            early = at_250.get(pid, 0)
            print(
                f"{name:<18}{pid:>8}{base / 1024:>9.0f} MB{early / 1024:>10.0f} MB"
                f"{peak / 1024:>9.0f} MB{(peak - base) / 1024:>7.0f} MB"
            )
    finally:
        daemon.stop()
        shutil.rmtree(work, ignore_errors=True)


# --- huge headers ---------------------------------------------------------------


def encoded_words(count: int) -> bytes:
    """`count` RFC 2047 words, B and Q alternating, folded one a line."""
    words = []
    for i in range(count):
        if i % 2:
            text = base64.b64encode(f"Слово{i} ".encode())
            words.append(b"=?utf-8?b?" + text + b"?=")
        else:
            words.append(b"=?utf-8?q?Q_word_%d?=" % i)
    return b"\r\n ".join(words)


def with_header(name: bytes, value: bytes) -> bytes:
    """The standard head with header `name` replaced by `value`, and a short body."""
    head = re.sub(
        rb"(?m)^" + name + rb": [^\r\n]*", lambda _: name + b": " + value, HEAD
    )
    head = head.replace(b"SUBJECT", b"Huge header")
    return head + b"Content-Type: text/plain\r\n\r\nBody.\r\n"


def recipients(count: int) -> bytes:
    """A To of `count` recipients with encoded display names."""
    return b",\r\n ".join(
        b"=?utf-8?q?Person_%d?= <user%d@customer%d.example>" % (i, i, i % 97)
        for i in range(count)
    )


CASES: dict[str, tuple[tuple[int, ...], Callable[[int], bytes]]] = {
    "Subject, encoded words": (
        (10_000, 20_000, 40_000),
        lambda n: with_header(b"Subject", encoded_words(n)),
    ),
    "From name, encoded words": (
        (10_000, 20_000, 40_000),
        lambda n: with_header(b"From", encoded_words(n) + b" <anna@customer.example>"),
    ),
    "To, recipients": (
        (10_000, 20_000, 40_000),
        lambda n: with_header(b"To", recipients(n)),
    ),
    "Subject line, MiB": (
        (1, 2, 4),
        lambda n: with_header(b"Subject", b"x" * (n * MIB)),
    ),
    "X-header line, MiB": (
        (1, 2, 4),
        lambda n: with_header(
            b"Date", b"Mon, 02 Nov 2026 08:00:00 +0000\r\nX-Long: " + b"y" * (n * MIB)
        ),
    ),
}


def through_pipeline(raw: bytes, work: Path) -> tuple[float, str]:
    """Seconds for the whole pipeline in-process on a fresh database, and the outcome."""
    shutil.rmtree(work, ignore_errors=True)
    config = Config(
        data_dir=work,
        storage=StorageConfig(url=f"sqlite:///{work / 'tierdesk.db'}"),
        support=SupportConfig(addresses=["support@example.com"], subject_tag="ACME"),
        outgoing=OutgoingConfig(maildir=work / "outgoing"),
        pipeline=PipelineConfig(parse_workers=0, parse_timeout=Duration(3600)),
    )
    runtime = open_runtime(config)
    try:
        arrival = spool.Arrival(
            raw, "bench", "anna@customer.example", ("support@example.com",)
        )
        (spool_id,) = spool.spool(runtime.sql, [arrival], runtime.clock())
        start = time.perf_counter()
        outcome = runtime.pipeline.process(spool_id)
        return time.perf_counter() - start, str(outcome.kind if outcome else None)
    finally:
        runtime.close()


def timed_parse(raw: bytes, limits: ParseLimits) -> float:
    """Seconds for parse_mail alone."""
    start = time.perf_counter()
    parse_mail(raw, limits)
    return time.perf_counter() - start


def pipeline_case(args: argparse.Namespace) -> None:
    """One headers case through the pipeline (a child process, so a stall can be cut off)."""
    raw = CASES[args.case][1](args.n)
    work = Path(tempfile.mkdtemp(prefix="tierdesk-headers-", dir=args.dir))
    try:
        seconds, kind = through_pipeline(raw, work / "db")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{seconds:.2f} s  {kind}")


def headers(args: argparse.Namespace) -> None:
    """Time parse_mail (without caps and with the default ones) and the pipeline."""
    print(
        f"{'case':<26}{'n':>8}{'bytes':>10}{'parse, no caps':>16}"
        f"{'parse, caps':>13}   pipeline (default caps)"
    )
    for name, (sizes, build) in CASES.items():
        if args.only and args.only.lower() not in name.lower():
            continue
        for n in sizes:
            raw = build(n)
            uncapped = timed_parse(raw, NO_CAPS)
            capped = timed_parse(raw, ParseLimits())
            command = [sys.executable, __file__, "pipeline-case", name, str(n)]
            if args.dir:
                command += ["--dir", str(args.dir)]
            try:
                done = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    timeout=args.limit,
                    check=False,
                )
                whole = done.stdout.strip() or done.stderr.strip().splitlines()[-1]
            except subprocess.TimeoutExpired:
                whole = f"still running after {args.limit:.0f} s (stopped)"
            print(
                f"{name:<26}{n:>8}{len(raw):>10}{uncapped:>14.3f} s"
                f"{capped:>11.3f} s   {whole}",
                flush=True,
            )


def main() -> None:
    """Run the chosen measurement."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("memory", "headers", "pipeline-case"))
    parser.add_argument("case", nargs="?", help="pipeline-case: the case")
    parser.add_argument("n", nargs="?", type=int, help="pipeline-case: its size")
    parser.add_argument("--parse-workers", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="where the databases go")
    parser.add_argument("--only", default="", help="headers: run the cases naming this")
    parser.add_argument(
        "--limit", type=float, default=120, help="headers: seconds per pipeline run"
    )
    args = parser.parse_args()
    run = {"memory": memory, "headers": headers, "pipeline-case": pipeline_case}
    run[args.what](args)


if __name__ == "__main__":
    main()
