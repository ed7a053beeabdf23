"""Running one parser over a corpus in worker processes, and watching them (hangs, crashes, memory)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


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


# the worker processes run bench/parsers.py itself
WORKER = Path(__file__).with_name("parsers.py")


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
    command = [sys.executable, str(WORKER), "--worker", parser, "--corpus", str(folder)]
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
