"""Where a refresh token is kept: a file only its owner may read, or the database.

`tierdesk oauth2 authorize NAME` writes it; the daemon reads it whenever it
needs a new access token (so a token stored while the daemon runs is used at
its next attempt) and writes back the new one a provider hands out on refresh.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from peewee import DatabaseError
from tierdesk.daemon.config_transport import OAuth2Config
from tierdesk.storage.sql import Sql

META_KEY_LENGTH = 64  # meta.key is a VARCHAR(64)


class StoreError(Exception):
    """A refresh token cannot be read or written where the config says."""


class RefreshTokenStore(Protocol):
    """Holds one refresh token."""

    @property
    def where(self) -> str:
        """How messages name the place (a path, or 'the database')."""
        ...

    def load(self) -> str | None:
        """The stored refresh token, or None when none is stored yet."""
        ...

    def save(self, token: str) -> None:
        """Store `token` in place of the one before; raises StoreError."""
        ...


@dataclass(frozen=True)
class RefreshTokenFile:
    """A refresh token in a file of mode 0600 (one a group or others may read is refused)."""

    path: Path

    @property
    def where(self) -> str:
        """The file's path."""
        return str(self.path)

    def load(self) -> str | None:
        """The file's first line; None when the file does not exist yet."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}") from exc
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise StoreError(
                f"{self.path} may be read by others (mode {mode:04o}); a refresh "
                f"token must not be: chmod 600 {self.path}"
            )
        try:
            lines = self.path.read_text(encoding="utf-8").split()
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}") from exc
        return lines[0] if lines else None

    def save(self, token: str) -> None:
        """Replace the file atomically with a new one of mode 0600."""
        write_private(self.path, token + "\n")


@dataclass(frozen=True)
class RefreshTokenInDatabase:
    """A refresh token in the database's meta table (every daemon on it shares it)."""

    sql: Sql
    key: str

    @property
    def where(self) -> str:
        """'the database', with the key."""
        return f"the database (meta key {self.key!r})"

    def load(self) -> str | None:
        """The stored token, or None."""
        try:
            value = self.sql.scalar("SELECT value FROM meta WHERE key = ?", self.key)
        except DatabaseError as exc:
            raise StoreError(f"cannot read the refresh token: {exc}") from exc
        return str(value) if value else None

    def save(self, token: str) -> None:
        """Insert or replace the token in one commit."""
        try:
            with self.sql.db.atomic():
                self.sql.run(
                    "INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    self.key,
                    token,
                )
        except DatabaseError as exc:
            raise StoreError(f"cannot store the refresh token: {exc}") from exc


def meta_key(owner: str) -> str:
    """The meta key of an owner's refresh token; a long mailbox name is hashed to fit."""
    key = f"oauth2_refresh_token:{owner}"
    if len(key) <= META_KEY_LENGTH:
        return key
    return "oauth2_refresh_token:" + hashlib.sha256(owner.encode()).hexdigest()[:40]


def store_for(owner: str, config: OAuth2Config, sql: Sql | None) -> RefreshTokenStore:
    """The store the config names: its refresh_token_file, else the database."""
    if config.refresh_token_file is not None:
        return RefreshTokenFile(config.refresh_token_file)
    if sql is None:
        raise StoreError(
            f"{owner}: the refresh token is kept in the database, which is not open here"
        )
    return RefreshTokenInDatabase(sql, meta_key(owner))


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` as a new file of mode 0600 (fsync, then rename over).

    Refuses when the file system does not keep the mode (the token would be
    readable by others there), leaving the old file as it was.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot write {tmp}: {exc.strerror}") from exc
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode only applies to a new file
        if os.fstat(fd).st_mode & 0o077:
            raise StoreError(
                f"{path.parent} does not keep file modes, so the refresh token would "
                "be readable by others: choose a refresh_token_file on another file system"
            )
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
