"""Users and mail of a test Dovecot: add users, append/fetch/list over IMAP, doveadm kick/who/UIDVALIDITY."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from imapclient import IMAPClient

from tests.support.dovecot_config import atomic_write


class DovecotError(RuntimeError):
    """Dovecot failed to start, or a doveadm/IMAP helper command failed."""


class DovecotMailMixin:
    """The user, mail and doveadm helpers of :class:`tests.support.dovecot.DovecotServer`.

    The server sets up (or provides) the attributes declared here.
    """

    host: str
    port: int
    running: bool
    is_root: bool
    conf_path: Path
    users_dir: Path
    mail_root: Path
    mail_uid: int
    mail_gid: int
    _users: dict[str, str]
    _lock: threading.Lock
    _doveadm: str

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
            atomic_write(self.users_dir / name, line.encode(), 0o600)
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

    # -- doveadm -----------------------------------------------------------------------

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
