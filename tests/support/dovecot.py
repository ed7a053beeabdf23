"""A private, throw-away Dovecot IMAP server for tests (plus pytest fixtures).

Each :class:`DovecotServer` gets its own config, sockets, state, log, users and maildirs in a
directory of its own and listens on a free port on 127.0.0.1, so several can run in parallel
without touching ``/etc/dovecot`` or the package's system-wide service.

Running as root: Dovecot refuses mail processes with uid 0, so every mail user runs as
``nobody`` (uid/gid 65534, from the passwd-file userdb). pytest's temp dirs sit below a
0700 root-owned ``/tmp/pytest-of-root``, which ``nobody`` cannot traverse, so the homes are
*chrooted* (``home=<mail>/./<user>`` plus ``valid_chroot_dirs``): the chroot happens while
still root, and only the part below the chroot must be accessible to ``nobody``. The auth
process runs as root so it can read the passwd-files. Not root: everything (internal, login
and mail processes) runs as the current user, without chroots.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
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
from imapclient import IMAPClient

HOST = "127.0.0.1"
NOBODY_UID = 65534
INSTALL_SCRIPT = Path(__file__).with_name("install_dovecot.sh")
# Unix socket paths are limited to 108 bytes; the longest one below base_dir is
# "token-login/imap-urlauth", so longer base dirs move the sockets to a short dir in /tmp.
_MAX_BASE_DIR_LEN = 75

_default_caps_cache: dict[tuple[str, float], tuple[str, ...]] = {}
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


def _free_port() -> int:
    """Return a port that was free a moment ago (bind to port 0, then close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class DovecotError(RuntimeError):
    """Dovecot failed to start, or a doveadm/IMAP helper command failed."""


class DovecotServer:
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
    ) -> None:
        """Prepare (but do not start) a server; ``capabilities_without`` hides IMAP capabilities."""
        self.base = Path(base_dir).resolve()
        self.base.mkdir(parents=True, exist_ok=True)
        self.capabilities_without = tuple(c.upper() for c in capabilities_without)
        self.extra_config = extra_config
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
        if len(str(run_dir)) > _MAX_BASE_DIR_LEN:
            self._private_run_dir = Path(tempfile.mkdtemp(prefix="dovecot-run-"))
            run_dir = self._private_run_dir / "run"
        self.run_dir = run_dir
        if self.is_root:
            self.mail_uid = self.mail_gid = NOBODY_UID
            self._internal_user = self._internal_group = ""
        else:
            pw = pwd.getpwuid(os.geteuid())
            self.mail_uid, self.mail_gid = pw.pw_uid, pw.pw_gid
            self._internal_user = pw.pw_name
            self._internal_group = grp.getgrgid(pw.pw_gid).gr_name
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
                self._port = _free_port()
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
        if self.is_root:
            home = f"{self.mail_root}/./%u"  # "/./" = chroot to the part before it
            privileges = (
                f"valid_chroot_dirs = {self.mail_root}\n"
                "service auth {\n  user = root\n}\n"  # so it can read our passwd-files
            )
        else:
            home = f"{self.mail_root}/%u"
            privileges = (
                f"default_internal_user = {self._internal_user}\n"
                f"default_login_user = {self._internal_user}\n"
                f"default_internal_group = {self._internal_group}\n"
                "service imap-login {\n  chroot =\n}\n"
                "service anvil {\n  chroot =\n}\n"
            )
        cap_line = f"imap_capability = {imap_capability}\n" if imap_capability else ""
        conf = f"""\
# Generated by tests/support/dovecot.py; private test instance.
instance_name = tierdesk-test-{self._port}
base_dir = {self.run_dir}
state_dir = {self.state_dir}
log_path = {self.log_path}
log_timestamp = "%Y-%m-%d %H:%M:%S "
protocols = imap
listen = {HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
mailbox_idle_check_interval = 1 secs
{privileges}{cap_line}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.users_dir}/%u
  default_fields = uid={self.mail_uid} gid={self.mail_gid} home={home}
}}

protocol imap {{
  mail_max_userip_connections = 200
}}

service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self._port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}

# Without this, every failed login from 127.0.0.1 delays the *next* logins from there (good
# ones too) by 2, 4, 8... s (anvil "auth penalty"); mode 0 removes the socket, which turns
# the penalty off.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}

# doveadm talks to this socket (base_dir/doveadm-server), e.g. "doveadm -c conf kick".
service doveadm {{
  unix_listener doveadm-server {{
    mode = 0600
  }}
}}
{self.extra_config}
"""
        self._atomic_write(self.conf_path, conf.encode(), 0o644)

    @staticmethod
    def _atomic_write(path: Path, data: bytes, mode: int) -> None:
        """Write via a temp file + rename so readers never see half a file."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.chmod(mode)
        tmp.replace(path)

    # -- users and mail ----------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Create a user with an empty INBOX; it can log in right away."""
        for value in (name, password):
            if (
                not value
                or any(ch in value for ch in ":\r\n\0")
                or value != value.strip()
            ):
                raise ValueError(f"unsupported user name or password: {value!r}")
        if "/" in name or name.startswith(".") or name != name.lower():
            # Dovecot lower-cases login names (auth_username_format = %Lu).
            raise ValueError(f"user names must be lower-case, without '/': {name!r}")
        with self._lock:
            home = self.mail_root / name
            home.mkdir(mode=0o700, exist_ok=True)
            os.chown(home, self.mail_uid, self.mail_gid)
            line = f"{name}:{{PLAIN}}{password}::::::\n"
            self._atomic_write(self.users_dir / name, line.encode(), 0o600)
            self._users[name] = password
        if self.running:
            self._wait_login_works(name, password)

    def _wait_login_works(self, name: str, password: str, timeout: float = 5.0) -> None:
        """Wait until Dovecot's auth accepts the new credentials (``doveadm auth test``).

        A passwd-file is stat()ed at most once per second, so a file that was looked up
        (and found missing or different) in this very second is only re-read in the next.
        """
        deadline = time.monotonic() + timeout
        while True:
            proc = self.doveadm("auth", "test", name, password, check=False)
            if proc.returncode == 0:
                return
            if time.monotonic() >= deadline:
                raise DovecotError(
                    f"new user {name} cannot log in: {proc.stdout}{proc.stderr}"
                )
            time.sleep(0.1)

    def password(self, user: str) -> str:
        """The password given to :meth:`add_user`."""
        return self._users[user]

    @contextlib.contextmanager
    def client(self, user: str, timeout: float = 10.0) -> Iterator[IMAPClient]:
        """A logged-in IMAPClient for ``user``; logs out on exit."""
        c = IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
        try:
            c.login(user, self._users[user])
            yield c
        finally:
            with contextlib.suppress(Exception):
                c.logout()
            with contextlib.suppress(Exception):
                c.shutdown()

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> int:
        """Deliver ``raw`` into ``folder`` via IMAP APPEND (wakes IDLE clients); return its UID."""
        with self.client(user) as c:
            resp = c.append(folder, raw)
        # b"[APPENDUID <uidvalidity> <uid>] Append completed ..."
        try:
            return int(resp.split(b"]", 1)[0].split()[2])
        except (IndexError, ValueError) as exc:
            raise DovecotError(f"no APPENDUID in {resp!r}") from exc

    def create_folder(self, user: str, name: str) -> None:
        """Create a mailbox (no error if it exists)."""
        with self.client(user) as c:
            if not c.folder_exists(name):
                c.create_folder(name)

    def list_uids(self, user: str, folder: str = "INBOX") -> list[int]:
        """All UIDs in ``folder``, ascending."""
        with self.client(user) as c:
            c.select_folder(folder, readonly=True)
            return sorted(c.search("ALL"))

    def fetch_all(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Raw messages in ``folder`` (as IMAP serves them, CRLF), in UID order, flags untouched."""
        with self.client(user) as c:
            c.select_folder(folder, readonly=True)
            uids = sorted(c.search("ALL"))
            if not uids:
                return []
            data = c.fetch(uids, ["BODY.PEEK[]"])
            return [data[u][b"BODY[]"] for u in uids]

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """The folder's current UIDVALIDITY (read with doveadm)."""
        out = self.doveadm(
            "mailbox", "status", "-u", user, "uidvalidity", folder
        ).stdout
        for tok in out.split():
            if tok.startswith("uidvalidity="):
                return int(tok.split("=", 1)[1])
        raise DovecotError(f"no uidvalidity in {out!r}")

    def reset_uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """Give ``folder`` a new UIDVALIDITY, keeping its messages (renumbered); return it.

        Deletes the folder's dovecot-uidlist and index files, then ``doveadm force-resync``.
        The user's sessions are kicked before and after: a session that keeps the folder
        selected across the reset neither notices the change (it goes on with the old UIDs)
        nor survives cleanly (Dovecot logs "duplicate transaction log sequence").
        """
        self.kick(user)
        before = self.uidvalidity(user, folder)
        path = self._host_path(
            self.doveadm("mailbox", "path", "-u", user, folder).stdout.strip()
        )
        index = self._host_path(
            self.doveadm(
                "mailbox", "path", "-u", user, "-t", "index", folder
            ).stdout.strip()
        )
        for d in {path, index}:
            for f in d.iterdir():
                if f.name == "dovecot-uidlist" or f.name.startswith("dovecot.index"):
                    f.unlink()
        self.doveadm("force-resync", "-u", user, folder)
        after = self.uidvalidity(user, folder)
        if self.sessions(user):  # a client reconnected meanwhile: drop its stale view
            self.kick(user)
        if after == before:
            raise DovecotError(
                f"UIDVALIDITY of {user}/{folder} did not change ({before})"
            )
        return after

    def _host_path(self, path: str) -> Path:
        """Map a path doveadm printed (inside the user's chroot when root) to the real one."""
        if not path:
            raise DovecotError("doveadm printed no mailbox path")
        if self.is_root:
            return self.mail_root / path.lstrip("/")
        return Path(path)

    def kick(self, user: str, timeout: float = 5.0) -> None:
        """Drop all of ``user``'s IMAP sessions (``doveadm kick``) and wait until they are gone."""
        proc = self.doveadm("kick", user, check=False)
        if proc.returncode not in (0, 68):  # 68 (EX_NOUSER): the user had no sessions
            raise DovecotError(f"doveadm kick {user} failed: {proc.stderr.strip()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.sessions(user):
                return
            time.sleep(0.05)
        raise DovecotError(
            f"{user} still has sessions after kick: {self.sessions(user)}"
        )

    def sessions(self, user: str) -> list[int]:
        """PIDs of ``user``'s running IMAP processes (``doveadm who``)."""
        out = self.doveadm("who", "-1", user).stdout
        pids = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == user and parts[2].isdigit():
                pids.append(int(parts[2]))
        return pids

    # -- debugging ---------------------------------------------------------------------

    def doveadm(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``doveadm -c <our conf> ARGS``; raise DovecotError on failure when ``check``."""
        proc = subprocess.run(
            [self._doveadm, "-c", str(self.conf_path), *args],
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="surrogateescape",
            timeout=30,
            check=False,
        )
        if check and proc.returncode != 0:
            raise DovecotError(
                f"doveadm {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc

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
