"""Finding the Dovecot binaries, and running install_dovecot.sh once when they are missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

INSTALL_SCRIPT = Path(__file__).with_name("install_dovecot.sh")

_install_lock = threading.Lock()
_install_result: str | None = None


def find_binary(name: str) -> str | None:
    """Return the path of a Dovecot binary (``/usr/sbin`` is often not on a user's PATH)."""
    for cand in (f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if os.access(cand, os.X_OK):
            return cand
    return shutil.which(name)


def dovecot_missing_reason() -> str | None:
    """Return why Dovecot cannot be used here, or None when dovecot and doveadm exist."""
    missing = [n for n in ("dovecot", "doveadm") if find_binary(n) is None]
    if missing:
        return (
            f"{' and '.join(missing)} not installed (run: sudo bash {INSTALL_SCRIPT})"
        )
    return None


def ensure_dovecot_installed() -> str | None:
    """Run install_dovecot.sh once per process if needed; return a skip reason or None."""
    global _install_result
    with _install_lock:
        if dovecot_missing_reason() is None:
            return None
        if _install_result is None:
            try:
                proc = subprocess.run(
                    ["bash", str(INSTALL_SCRIPT)],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=900,
                    check=False,
                )
                _install_result = (proc.stdout + proc.stderr).strip()[-2000:]
            except (OSError, subprocess.TimeoutExpired) as exc:
                _install_result = f"installer failed: {exc}"
        reason = dovecot_missing_reason()
        if reason is not None:
            return f"{reason}; installer said: {_install_result or '(nothing)'}"
        return None
