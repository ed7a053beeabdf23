"""`tierdesk oauth2 authorize NAME`: get a mailbox's (or the relay's) refresh token.

The device-code flow where the provider offers it (the admin opens the
provider's page anywhere and types the code shown), else the browser sign-in
to a loopback port (Google: its device flow does not allow the Gmail scope).
The refresh token lands where the config says (refresh_token_file, mode
0600, or the database).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from peewee import DatabaseError
from tierdesk.daemon.config import Config
from tierdesk.daemon.config_load import read_secret
from tierdesk.daemon.config_transport import OAuth2Config
from tierdesk.daemon.oauth2 import RELAY, mailbox_owner
from tierdesk.daemon.oauth2_browser import browser_sign_in
from tierdesk.daemon.oauth2_device import (
    DeviceFlowError,
    request_device_code,
    wait_for_tokens,
)
from tierdesk.daemon.oauth2_store import (
    RefreshTokenFile,
    RefreshTokenInDatabase,
    RefreshTokenStore,
    StoreError,
    meta_key,
)
from tierdesk.storage.db import StorageError, open_database
from tierdesk.storage.schema import SchemaError, ensure_schema
from tierdesk.storage.sql import Sql

EX_FAILED = 1
EX_TEMPFAIL = 75
EX_CONFIG = 78


def add_oauth2_command(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """`oauth2 authorize NAME`."""
    commands = sub.add_parser(
        "oauth2", help="OAuth2 logins of IMAP mailboxes and the relay"
    ).add_subparsers(title="oauth2 commands")
    p = commands.add_parser(
        "authorize",
        parents=[common],
        help="get a refresh token (device-code sign-in) and store it where the config says",
    )
    p.add_argument("name", help="the IMAP mailbox's name, or `outgoing` for the relay")
    p.add_argument(
        "--port",
        type=int,
        default=0,
        help="browser sign-in: the loopback port the provider sends the browser back "
        "to (default: any free one; fix it to forward it with ssh -L)",
    )
    p.set_defaults(handler=authorize, needs_storage=False)


def authorize(args: argparse.Namespace, config: Config) -> int:
    """The command's handler."""
    return run_authorize(config, args.name, sys.stdout, sys.stderr, port=args.port)


def run_authorize(
    config: Config,
    name: str,
    out: TextIO,
    err: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    port: int = 0,
    open_page: Callable[[str], None] | None = None,
) -> int:
    """Walk the admin through a sign-in and store the refresh token; exit status.

    The device flow where the config names a device endpoint, else the browser
    sign-in; `open_page` (tests: a fake browser) gets the browser sign-in's address.
    """
    try:
        owner, block, what = oauth2_block(config, name)
    except LookupError as exc:
        print(f"tierdesk: {exc.args[0]}", file=err)
        return EX_CONFIG
    problem = unfit_for_sign_in(block, name)
    if problem:
        print(f"tierdesk: {problem}", file=err)
        return EX_CONFIG
    secret = read_secret(
        block.client_secret,
        block.client_secret_file,
        block.client_secret_env,
        dict(os.environ),
    )
    db = None
    try:
        if block.refresh_token_file is not None:
            store: RefreshTokenStore = RefreshTokenFile(block.refresh_token_file)
            writable_or_raise(block.refresh_token_file.parent)
        else:
            db = open_database(config.storage_url)
            ensure_schema(db)
            store = RefreshTokenInDatabase(Sql(db), meta_key(owner))
        if block.device_authorization_url:
            tokens = device_sign_in(block, secret, what, out, sleep)
        else:

            def show(url: str) -> None:
                print(
                    f"To let tierdesk read {what}, open this address in a browser, "
                    "sign in as the mailbox's account and allow the access:\n"
                    f"  {url}\nWaiting for the browser to come back...",
                    file=out,
                    flush=True,
                )
                if open_page is not None:
                    open_page(url)

            tokens = browser_sign_in(block, secret, show, port)
        store.save(tokens["refresh_token"])
    except (DeviceFlowError, StoreError) as exc:
        print(f"tierdesk: {exc}", file=err)
        return EX_FAILED
    except (StorageError, DatabaseError, SchemaError) as exc:
        print(f"tierdesk: storage unavailable ({config.storage_url}): {exc}", file=err)
        return EX_TEMPFAIL
    finally:
        if db is not None:
            db.close()
    print(
        f"Stored the refresh token for {what} in {store.where}. The daemon uses it "
        "at its next login; `tierdesk check-config` tries it now.",
        file=out,
    )
    return 0


def oauth2_block(config: Config, name: str) -> tuple[str, OAuth2Config, str]:
    """(owner, oauth2 block, description) of the mailbox named `name`, or the relay."""
    for mailbox in config.imap:
        if mailbox.name == name:
            if mailbox.oauth2 is None:
                raise LookupError(
                    f"imap mailbox {name!r} in {config.source} has no oauth2 block"
                )
            return (
                mailbox_owner(name),
                mailbox.oauth2,
                f"mailbox {name!r} ({mailbox.username})",
            )
    if name == RELAY:
        if config.outgoing.oauth2 is None:
            raise LookupError(f"outgoing in {config.source} has no oauth2 block")
        return RELAY, config.outgoing.oauth2, f"the relay ({config.outgoing.username})"
    known = [m.name for m in config.imap if m.oauth2]
    known += [RELAY] if config.outgoing.oauth2 else []
    raise LookupError(
        f"no imap mailbox named {name!r} in {config.source}; "
        f"the ones with oauth2: {', '.join(known) or 'none'}"
    )


def device_sign_in(
    block: OAuth2Config,
    secret: str | None,
    what: str,
    out: TextIO,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """RFC 8628: show the code and where to enter it, then wait for the sign-in."""
    code = request_device_code(block, secret)
    print(
        f"To let tierdesk read {what}:\n"
        f"  1. open {code.verification_uri}\n"
        f"  2. enter the code {code.user_code}\n"
        f"  3. sign in as the mailbox's account and allow the access\n"
        f"The code is valid for {code.expires_in / 60:.0f} minutes. Waiting...",
        file=out,
        flush=True,
    )
    if code.message:
        print(code.message, file=out, flush=True)
    return wait_for_tokens(block, secret, code, sleep)


def unfit_for_sign_in(block: OAuth2Config, name: str) -> str:
    """Why no sign-in applies to this block ('' when one does)."""
    if block.grant != "refresh_token":
        return (
            f"{name} uses client_credentials: its tokens come from the client secret,"
            " nothing to authorize (`tierdesk check-config` tries the login)"
        )
    if not (block.device_authorization_url or block.effective_authorization_url):
        return (
            f"{name}: set oauth2.device_authorization_url (the provider's device "
            "authorization endpoint) or oauth2.authorization_url (its browser sign-in)"
        )
    return ""


def writable_or_raise(directory: os.PathLike[str]) -> None:
    """Fail before the sign-in, not after it, when the token file cannot be written."""
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK | os.X_OK):
        raise StoreError(
            f"cannot write the refresh token into {directory}: create it, or make it "
            "writable for this user"
        )
