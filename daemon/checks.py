"""`tierdesk check-config`: each component of a configuration tried for real, one line each."""

from __future__ import annotations

import os
from dataclasses import dataclass

from imapclient.exceptions import LoginError
from tierdesk.daemon.config import Config
from tierdesk.daemon.intake.imap_client import NETWORK_ERRORS, connect
from tierdesk.daemon.oauth2 import RelayTokens, mailbox_tokens
from tierdesk.daemon.outgoing.sender import DeliveryError, SmtpTransport
from tierdesk.daemon.runtime import Runtime
from tierdesk.storage.schema import current_version
from tierdesk.storage.sql import Sql


@dataclass(frozen=True)
class Check:
    """The verdict on one component."""

    component: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.component}: {'ok' if self.ok else 'FAILED'}: {self.detail}"


def run_checks(runtime: Runtime) -> list[Check]:
    """Config, storage, templates, every IMAP login and the outgoing transport."""
    config = runtime.config
    checks = [
        Check("config", True, config.source),
        Check(
            "storage",
            True,
            f"{config.storage_url} (schema version {current_version(runtime.db)})",
        ),
        _templates(runtime),
    ]
    checks += [_imap(config, i, runtime.sql) for i in range(len(config.imap))]
    checks.append(_outgoing(config, runtime.sql))
    return checks


def _templates(runtime: Runtime) -> Check:
    problems = runtime.snapshot.templates.problems
    if not problems:
        return Check("templates", True, "all compile")
    return Check(
        "templates",
        False,
        "; ".join(problems) + " (the built-in ones are used instead)",
    )


def _imap(config: Config, index: int, sql: Sql | None = None) -> Check:
    mailbox = config.imap[index]
    name = f"imap {mailbox.name!r} ({mailbox.username}@{mailbox.host}:{mailbox.effective_port})"
    try:
        client = connect(mailbox, tokens=mailbox_tokens(mailbox, sql))
    except LoginError as exc:
        return Check(name, False, f"login refused: {exc}")
    except NETWORK_ERRORS as exc:
        return Check(name, False, f"cannot connect: {exc}")
    try:
        status = client.select_folder(mailbox.folder, readonly=True)
        idle = "IDLE" if b"IDLE" in client.capabilities() else "no IDLE (polling)"
        detail = f"{int(status[b'EXISTS'])} message(s) in {mailbox.folder}, {idle}"
        return Check(name, True, detail + _imap_trust(config, index))
    except NETWORK_ERRORS as exc:
        return Check(name, False, f"folder {mailbox.folder!r}: {exc}")
    finally:
        client.logout()


def _imap_trust(config: Config, index: int) -> str:
    """What a mailbox's trust settings leave out (said, not failed: it may be intended)."""
    mailbox = config.imap[index]
    notes = []
    if mailbox.delivery_header is None:
        notes.append("no delivery_header, so agents cannot act through it")
    verifiable = (
        mailbox.trust_return_path or mailbox.authserv_id or config.trust.authserv_id
    )
    if not verifiable and config.trust.require_verified_sender:
        notes.append("no trust_return_path or authserv_id, so no sender gets an ack")
    return "; " + "; ".join(notes) if notes else ""


def _outgoing(config: Config, sql: Sql | None = None) -> Check:
    out = config.outgoing
    if out.transport == "maildir":
        path = config.outgoing_maildir
        parent = next((p for p in [path, *path.parents] if p.exists()), path)
        writable = os.access(parent, os.W_OK)
        return Check(
            "outgoing",
            writable,
            f"Maildir {path}" + ("" if writable else " is not writable"),
        )
    name = f"relay {out.host}:{out.port} ({out.security})"
    try:
        SmtpTransport(out, tokens=RelayTokens(sql).get(out.oauth2)).check()
    except DeliveryError as exc:
        return Check(name, False, str(exc))
    return Check(
        name,
        True,
        "connected" + (f" and logged in as {out.username}" if out.username else ""),
    )
