"""Running `tierdesk run` as a real process in tests, with a config written for it."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port

TIERDESK = str(Path(sys.executable).parent / "tierdesk")


@dataclass
class DaemonProcess:
    """A `tierdesk run` child: its config file, SMTP port, log and process."""

    workdir: Path
    storage_url: str
    extra_yaml: str = ""
    smtp_yaml: str = ""
    relay_port: int | None = None
    mode: str = "smtp"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def config_path(self) -> Path:
        """Where the daemon's YAML config lives."""
        return self.workdir / "tierdesk.yaml"

    @property
    def log_path(self) -> Path:
        """The daemon's stderr."""
        return self.workdir / "tierdesk.log"

    def write_config(self) -> None:
        """The config: storage, support@example.com with tag ACME, our port, relay or Maildir."""
        outgoing = (
            f"outgoing:\n  transport: smtp\n  host: 127.0.0.1\n  port: {self.relay_port}\n"
            if self.relay_port
            else f"outgoing:\n  maildir: {self.workdir / 'outgoing'}\n"
        )
        self.config_path.write_text(
            f"data_dir: {self.workdir / 'data'}\n"
            f"storage:\n  url: {self.storage_url}\n"
            "support:\n  addresses: [support@example.com]\n  display_name: ACME Support\n"
            "  subject_tag: ACME\n"
            f"smtp:\n  host: 127.0.0.1\n  port: {self.port}\n  mode: {self.mode}\n{self.smtp_yaml}"
            f"{outgoing}{self.extra_yaml}"
        )

    def start(
        self, wait: bool = True, env: dict[str, str] | None = None
    ) -> DaemonProcess:
        """Start the daemon; with `wait`, until its listener answers."""
        self.write_config()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [TIERDESK, "run", "--config", str(self.config_path)],
                stderr=log,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        if wait:
            self.wait_listening()
        return self

    def run_to_exit(self, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Write the config and run `tierdesk run` in the foreground, for a daemon that
        should refuse to start: its exit status and stderr."""
        self.write_config()
        return subprocess.run(
            [TIERDESK, "run", "--config", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def wait_listening(self, timeout: float = 30.0) -> None:
        """Block until the SMTP/LMTP port accepts connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"tierdesk exited with {self.proc.returncode}:\n{self.log()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"the listener did not come up:\n{self.log()}")

    def log(self) -> str:
        """What the daemon logged so far."""
        return (
            self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Send `sig` and wait for the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the daemon and every process it started (its parse workers)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def send(
        self,
        raw: bytes,
        mail_from: str = "alice@customer.example",
        to: str = "support@example.com",
    ) -> None:
        """Deliver one message over SMTP; raises on any refusal."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            smtp.sendmail(mail_from, [to], raw)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run another `tierdesk` command against the same config."""
        return subprocess.run(
            [TIERDESK, *args, "--config", str(self.config_path)],
            capture_output=True,
            check=False,
        )

    def cli_json(self, *args: str) -> object:
        """Run a `tierdesk ... --json` command and parse its output."""
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr.decode()
        return json.loads(done.stdout)


def wait_until(
    predicate, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"
) -> None:
    """Poll `predicate` until it is true; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)
