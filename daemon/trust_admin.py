"""`tierdesk keys ...` and `tierdesk tickets participants ...`: the admin's side of trust."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from tierdesk.daemon.admin import numbered_ticket
from tierdesk.daemon.runtime import Runtime, configured_keys
from tierdesk.storage.keys import forget_retired, list_keys, rotate
from tierdesk.storage.participants import (
    add_participants,
    list_participants,
    remove_participant,
)

EX_USAGE = 64
EX_NOTFOUND = 1


def keys_list(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk keys list`: each signing key, when it was made and retired."""
    if configured_keys(runtime.config) is not None:
        print("signing keys come from support.secret_file / secret_env, one per line")
        return 0
    grace = timedelta(seconds=runtime.config.trust.key_grace)
    now = runtime.clock()
    for key_id, created, retired in list_keys(runtime.sql):
        if retired is None:
            state = "signs new addresses"
        elif retired + grace > now:
            state = (
                f"retired {retired:%Y-%m-%d}, verifies until {retired + grace:%Y-%m-%d}"
            )
        else:
            state = f"retired {retired:%Y-%m-%d}, no longer verifies"
        made = f"{created:%Y-%m-%d %H:%M}" if created else "?"
        print(f"{key_id}  made {made}  {state}")
    return 0


def keys_rotate(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk keys rotate`: a new key signs from now on; the old one verifies for the grace period."""
    if configured_keys(runtime.config) is not None:
        print(
            "tierdesk: the keys come from support.secret_file / secret_env: put a new "
            "secret on the first line of the file and keep the old one below it",
            file=sys.stderr,
        )
        return EX_USAGE
    now = runtime.clock()
    key = rotate(runtime.sql, now)
    grace = timedelta(seconds=runtime.config.trust.key_grace)
    gone = forget_retired(runtime.sql, now - grace - timedelta(days=365))
    print(
        f"key {key.id} signs new reply addresses; the one before it verifies until "
        f"{now + grace:%Y-%m-%d}. Running daemons pick it up within seconds."
        + (f" {gone} long-retired key(s) deleted." if gone else "")
    )
    return 0


def participants(args: argparse.Namespace, runtime: Runtime) -> int:
    """`tierdesk tickets participants N [--add ADDR] [--remove ADDR]`."""
    ticket = numbered_ticket(runtime, args.number)
    if ticket is None:
        return EX_NOTFOUND
    with runtime.db.atomic():
        if args.add:
            add_participants(runtime.sql, ticket.id, args.add, "cc", runtime.clock())
        for address in args.remove or ():
            remove_participant(runtime.sql, ticket.id, address)
    for address, role in list_participants(runtime.sql, ticket.id):
        print(f"{address}  {role}")
    return 0


def add_commands(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """The `keys` commands (the participants one hangs under `tickets`)."""
    keys = sub.add_parser(
        "keys", help="the keys that sign reply addresses"
    ).add_subparsers(title="keys commands")
    p = keys.add_parser("list", parents=[common], help="each key and its state")
    p.set_defaults(handler=keys_list)
    p = keys.add_parser(
        "rotate",
        parents=[common],
        help="sign new addresses with a new key; the old one verifies for trust.key_grace",
    )
    p.set_defaults(handler=keys_rotate)


def add_participants_command(
    tickets: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """`tickets participants`: who may write into a ticket."""
    p = tickets.add_parser(
        "participants",
        parents=[common],
        help="who belongs on a ticket (others' mail follows trust.strangers)",
    )
    p.add_argument("number", type=int)
    p.add_argument("--add", action="append", help="address to add (repeatable)")
    p.add_argument("--remove", action="append", help="address to remove (repeatable)")
    p.set_defaults(handler=participants)
