"""The README's server install block, made runnable under a temporary prefix.

Each line runs as written, with three kinds of change only: absolute paths
move under the prefix; what needs a real system (a system user, systemd,
switching user, file ownership) is left out or done the way systemd would
do it; and `/path/to/tierdesk` is this checkout. A line we do not know how
to translate fails the test, so the README cannot grow a step nobody ran.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

MARK = "<!-- tests/test_install_steps.py runs this block as written"
SYSTEM_PATHS = ("/opt/", "/usr/local/bin", "/etc/", "/var/lib/")


@dataclass(frozen=True)
class Step:
    """One shell command; `then_edit` when the README says to edit what it installed."""

    command: str
    then_edit: bool = False


@dataclass(frozen=True)
class Steps:
    """The shell commands to run, and whether the README starts the unit (the test does)."""

    shell: list[Step]
    start_unit: bool


def readme_block(readme: Path) -> list[str]:
    """The lines of the code block right after the marker comment."""
    text = readme.read_text()
    start = text.index(MARK)
    block = text[start:].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def translate(lines: list[str], prefix: Path, checkout: Path) -> Steps:
    """Shell lines for a prefix, or AssertionError naming a line we cannot run."""
    shell: list[Step] = []
    start_unit = False
    for line in lines:
        command, _, comment = line.partition("#")
        for part in (p.strip() for p in command.strip().split("&&")):
            if part.startswith(("useradd ", "systemctl daemon-reload")):
                continue  # the test runs as one user, and there is no systemd here
            if part.startswith("systemctl enable --now"):
                start_unit = True
                continue
            relocated = _relocated(_as_current_user(part), prefix, checkout)
            shell.append(Step(relocated, "then edit it" in comment))
    return Steps(shell, start_unit)


def _as_current_user(part: str) -> str:
    part = re.sub(r"^sudo -u \S+ ", "", part)
    # ownership needs the system user: the modes stay
    return re.sub(r" -[og] \S+", "", part) if part.startswith("install ") else part


def _relocated(part: str, prefix: Path, checkout: Path) -> str:
    part = part.replace("/path/to/tierdesk", str(checkout))
    words = []
    for word in shlex.split(part):
        if word.startswith(SYSTEM_PATHS):
            word = f"{prefix}{word}"
        elif "=/" in word and word.split("=", 1)[1].startswith(SYSTEM_PATHS):
            name, value = word.split("=", 1)
            word = f"{name}={prefix}{value}"
        words.append(word)
    if words and words[0] == "tierdesk":  # as found on PATH: the symlink made above
        words[0] = f"{prefix}/usr/local/bin/tierdesk"
    elif len(words) > 1 and "=" in words[0] and words[1] == "tierdesk":
        words[1] = f"{prefix}/usr/local/bin/tierdesk"
    return shlex.join(words)


def unit_commands(unit: Path, prefix: Path) -> tuple[dict[str, str], list[str], str]:
    """From a unit file: its Environment, ExecStartPre lines and ExecStart, under the prefix."""
    env: dict[str, str] = {}
    pre: list[str] = []
    start = ""
    for line in unit.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            name, _, val = value.partition("=")
            env[name] = f"{prefix}{val}" if val.startswith(SYSTEM_PATHS) else val
        elif key == "ExecStartPre":
            pre.append(f"{prefix}{value}")
        elif key == "ExecStart":
            start = f"{prefix}{value}"
    return env, pre, start
