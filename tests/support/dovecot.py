"""A private, throw-away Dovecot IMAP server for tests (plus pytest fixtures).

Each :class:`DovecotServer` gets its own config, sockets, state, log, users and maildirs in a
directory of its own and listens on a free port on 127.0.0.1, so several can run in parallel
without touching ``/etc/dovecot`` or the package's system-wide service.

This module holds the server's lifecycle and the fixtures; its parts live beside it:
``dovecot_install`` finds (or installs) Dovecot, ``dovecot_config`` writes dovecot.conf (and
explains how the server runs as root), and ``dovecot_mail`` holds the user, IMAP and doveadm
helpers the server inherits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

from tests.support.dovecot_config import (
    HOST,
    MAX_BASE_DIR_LEN,
    DovecotConfig,
    process_users,
    write_oauth2_args,
)
from tests.support.dovecot_install import (
    INSTALL_SCRIPT,
    dovecot_missing_reason,
    ensure_dovecot_installed,
    find_binary,
)
from tests.support.dovecot_mail import DovecotError, DovecotMailMixin
from tests.support.ports import free_port

__all__ = [
    "HOST",
    "INSTALL_SCRIPT",
    "DovecotError",
    "DovecotServer",
    "dovecot_missing_reason",
    "dovecot_server",
    "ensure_dovecot_installed",
    "find_binary",
    "make_dovecot",
]

_default_caps_cache: dict[tuple[str, float], tuple[str, ...]] = {}


class DovecotServer(DovecotMailMixin):
    """A Dovecot IMAP server on 127.0.0.1 with its own config under ``base_dir``."""

    host: str = HOST

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        *,
        capabilities_without: Iterable[str] = (),
        port: int | None = None,
        extra_config: str = "",
        startup_timeout: float = 15.0,
        oauth2_introspection_url: str | None = None,
    ) -> None:
        """Prepare (but do not start) a server; ``capabilities_without`` hides IMAP capabilities.

        With ``oauth2_introspection_url``, XOAUTH2 and OAUTHBEARER logins are checked by
        Dovecot's oauth2 passdb against that RFC 7662 endpoint (passwords still work).
        """
        self.base = Path(base_dir).resolve()
        self.base.mkdir(parents=True, exist_ok=True)
        self.capabilities_without = tuple(c.upper() for c in capabilities_without)
        self.extra_config = extra_config
        self.oauth2_introspection_url = oauth2_introspection_url
        self.startup_timeout = startup_timeout
        self._fixed_port = port
        self._port = port or 0
        self._users: dict[str, str] = {}
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_file: Any = None
        self.is_root = os.geteuid() == 0
        self.conf_path = self.base / "dovecot.conf"
        self.users_dir = self.base / "users"  # one passwd-file per user
        self.mail_root = self.base / "mail"
        self.state_dir = self.base / "state"
        self.log_path = self.base / "dovecot.log"
        self._private_run_dir: Path | None = None
        if self.users_dir.is_dir():  # a server re-created on an existing base dir
            for f in self.users_dir.iterdir():
                if f.name.endswith(".tmp"):
                    continue
                name, _, rest = f.read_text().partition(":{PLAIN}")
                self._users[name] = rest.split(":", 1)[0]
        run_dir = self.base / "run"
        if len(str(run_dir)) > MAX_BASE_DIR_LEN:
            self._private_run_dir = Path(tempfile.mkdtemp(prefix="dovecot-run-"))
            run_dir = self._private_run_dir / "run"
        self.run_dir = run_dir
        self.mail_uid, self.mail_gid, self._internal_user, self._internal_group = (
            process_users()
        )
        self._dovecot = find_binary("dovecot") or "/usr/sbin/dovecot"
        self._doveadm = find_binary("doveadm") or "/usr/bin/doveadm"

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port (stays the same across :meth:`restart`)."""
        return self._port

    @property
    def running(self) -> bool:
        """True while Dovecot's master process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server and remove its private socket dir (the base dir is kept)."""
        self.close()

    def start(self) -> Self:
        """Write the config and start Dovecot; return once the IMAP greeting arrives."""
        if self.running:
            return self
        for d in (self.mail_root, self.state_dir, self.run_dir.parent):
            d.mkdir(parents=True, exist_ok=True)
        self.mail_root.chmod(0o755)
        self.users_dir.mkdir(mode=0o700, exist_ok=True)
        attempts = 1 if self._fixed_port else 5
        for attempt in range(attempts):
            if not self._fixed_port:
                self._port = free_port()
            self._write_config(self._imap_capability())
            try:
                self._spawn_and_wait()
            except DovecotError:
                # Another process may have grabbed the free port in between: try a new one.
                if attempt + 1 < attempts and "in use" in self.log_text():
                    continue
                raise
            self._fixed_port = self._port
            return self
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop Dovecot: SIGTERM to its whole process group, SIGKILL whatever is left shortly after.

        Signalling only the master is not enough: it exits after ~1 s but leaves running IMAP
        sessions (e.g. a client in IDLE) alive. With the group signal the clients get
        ``* BYE Server shutting down.`` at once.
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                # The master lingers ~1 s after its children are gone; don't wait for that.
                self._wait_exit_unreaped(proc.pid, 0.3)
            # The master is not reaped yet (a zombie at worst), so its pid still names our
            # process group: this SIGKILL can only reach Dovecot processes we started.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            (self.run_dir / "master.pid").unlink(missing_ok=True)
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    @staticmethod
    def _wait_exit_unreaped(pid: int, timeout: float) -> bool:
        """Wait until child ``pid`` has exited, without reaping it; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if (
                    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
                    is not None
                ):
                    return True
            except ChildProcessError:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def restart(self) -> None:
        """Stop and start again on the same port, keeping users and mail."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove the private socket dir, if one was needed."""
        self.stop()
        if self._private_run_dir is not None:
            shutil.rmtree(self._private_run_dir, ignore_errors=True)

    def _spawn_and_wait(self) -> None:
        """Start ``dovecot -F -c conf`` and wait for the greeting on the port."""
        self._stderr_file = open(self.base / "dovecot.stderr", "ab")  # noqa: SIM115
        cmd = [self._dovecot, "-F", "-c", str(self.conf_path)]
        setpriv = shutil.which("setpriv")
        if setpriv and threading.current_thread() is threading.main_thread():
            # If the test process dies (SIGKILL, CI timeout) the kernel SIGTERMs the master.
            # Only from the main thread: PDEATHSIG fires when the *thread* that forked exits.
            cmd = [setpriv, "--pdeathsig", "TERM", "--", *cmd]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._stderr_file,
            stderr=self._stderr_file,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                with socket.create_connection((HOST, self._port), timeout=2) as s:
                    greeting = s.makefile("rb").readline()
                if greeting.startswith(b"* OK"):
                    return
                last_error = DovecotError(f"unexpected greeting {greeting!r}")
            except OSError as exc:
                last_error = exc
            time.sleep(0.05)
        rc = self._proc.poll()
        self.stop()
        raise DovecotError(
            f"dovecot did not come up on {HOST}:{self._port} (exit code {rc}, last error {last_error!r})\n"
            f"--- stderr ---\n{self._read(self.base / 'dovecot.stderr')}\n--- log ---\n{self.log_text()}"
        )

    # -- config ------------------------------------------------------------------------

    def _imap_capability(self) -> str:
        """The ``imap_capability`` value: the default list minus the hidden capabilities."""
        if not self.capabilities_without:
            return ""
        caps = [
            c
            for c in self._default_capabilities()
            if c.upper() not in self.capabilities_without
        ]
        return " ".join(caps)

    def _default_capabilities(self) -> tuple[str, ...]:
        """Dovecot's post-login CAPABILITY list, probed once per binary with a throw-away server."""
        key = (self._dovecot, os.stat(self._dovecot).st_mtime)
        if key not in _default_caps_cache:
            with tempfile.TemporaryDirectory(prefix="dovecot-probe-") as tmp:
                os.chmod(tmp, 0o755)
                with DovecotServer(tmp, extra_config=self.extra_config) as probe:
                    probe.add_user("probe", "probe")
                    with probe.client("probe") as c:
                        caps = c.capabilities()
            _default_caps_cache[key] = tuple(c.decode() for c in caps)
        return _default_caps_cache[key]

    def _write_config(self, imap_capability: str) -> None:
        """Write a minimal, self-contained dovecot.conf (nothing from /etc/dovecot)."""
        DovecotConfig(
            port=self._port,
            run_dir=self.run_dir,
            state_dir=self.state_dir,
            log_path=self.log_path,
            users_dir=self.users_dir,
            mail_root=self.mail_root,
            mail_uid=self.mail_uid,
            mail_gid=self.mail_gid,
            is_root=self.is_root,
            internal_user=self._internal_user,
            internal_group=self._internal_group,
            imap_capability=imap_capability,
            extra_config=self.extra_config,
            oauth2_args=self._oauth2_args(),
        ).write(self.conf_path)

    def _oauth2_args(self) -> Path | None:
        """Write the oauth2 passdb's args file (oauth2 mode only)."""
        if self.oauth2_introspection_url is None:
            return None
        path = self.base / "dovecot-oauth2.conf.ext"
        write_oauth2_args(path, self.oauth2_introspection_url)
        return path

    # -- debugging ---------------------------------------------------------------------

    def log_text(self) -> str:
        """Dovecot's log so far (empty if none)."""
        return self._read(self.log_path)

    @staticmethod
    def _read(path: Path) -> str:
        """A file's text, or '' if it does not exist."""
        try:
            return path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __repr__(self) -> str:
        """Short description for test output."""
        return f"<DovecotServer {self.host}:{self.port} base={self.base} running={self.running}>"


# -- pytest fixtures -------------------------------------------------------------------


@pytest.fixture
def make_dovecot(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., DovecotServer]]:
    """Factory fixture: ``make_dovecot(**DovecotServer kwargs)`` returns a started server.

    Skips the test if Dovecot is missing and cannot be installed. All servers are stopped and
    their directories removed at teardown; their logs are printed (shown if the test failed).
    """
    servers: list[DovecotServer] = []

    def factory(**kwargs: Any) -> DovecotServer:
        reason = ensure_dovecot_installed()
        if reason is not None:
            pytest.skip(f"Dovecot unavailable: {reason}")
        server = DovecotServer(tmp_path_factory.mktemp("dovecot"), **kwargs)
        servers.append(server)
        return server.start()

    yield factory
    for server in reversed(servers):
        server.close()
        log = server.log_text()
        if log:
            print(f"--- dovecot log {server.base} ---\n{log}")
        shutil.rmtree(server.base, ignore_errors=True)


@pytest.fixture
def dovecot_server(make_dovecot: Callable[..., DovecotServer]) -> DovecotServer:
    """A started Dovecot with default settings (no users yet; call ``add_user``)."""
    return make_dovecot()
