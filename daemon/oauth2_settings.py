"""Checks of the `oauth2:` blocks of a config (mailboxes and relay) that need all of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tierdesk.daemon.config import Config
from tierdesk.daemon.config_transport import OAuth2Config


def oauth2_blocks(config: Config) -> list[tuple[str, OAuth2Config]]:
    """(what, block) of every mailbox and the relay that log in with OAuth2."""
    blocks = [(f"imap {m.name!r}", m.oauth2) for m in config.imap if m.oauth2]
    if config.outgoing.oauth2 is not None:
        blocks.append(("outgoing", config.outgoing.oauth2))
    return blocks


def oauth2_problems(config: Config) -> list[str]:
    """What is missing or contradictory in the oauth2 blocks, each with its fix."""
    messages = []
    for what, block in oauth2_blocks(config):
        if not block.effective_token_url:
            messages.append(
                f"{what}: oauth2.token_url is required for client_credentials (Microsoft"
                " 365: https://login.microsoftonline.com/TENANT/oauth2/v2.0/token)"
            )
        secrets = (block.client_secret, block.client_secret_file)
        if block.grant == "client_credentials" and not any(
            (*secrets, block.client_secret_env)
        ):
            messages.append(
                f"{what}: oauth2 client_credentials needs client_secret_file or"
                " client_secret_env"
            )
    out = config.outgoing
    if out.oauth2 is not None:
        if not out.username:
            messages.append(
                "outgoing: oauth2 needs username (the mailbox the relay sends as)"
            )
        if out.oauth2.mechanism != "xoauth2":
            messages.append("outgoing: oauth2.mechanism must be xoauth2 for the relay")
    return messages


def oauth2_secret_sources(config: Config) -> list[tuple[str, Path | None, str | None]]:
    """(what, file, variable) of every client secret, for the missing-secret check."""
    return [
        (f"{what} oauth2", b.client_secret_file, b.client_secret_env)
        for what, b in oauth2_blocks(config)
    ]


def resolve_oauth2_paths(
    config: Config, fix: Callable[[Path | None], Path | None]
) -> Config:
    """The oauth2 files made relative to the config file, like the other paths."""

    def fixed(block: OAuth2Config | None) -> OAuth2Config | None:
        if block is None:
            return None
        return replace(
            block,
            client_secret_file=fix(block.client_secret_file),
            refresh_token_file=fix(block.refresh_token_file),
        )

    return replace(
        config,
        imap=[replace(m, oauth2=fixed(m.oauth2)) for m in config.imap],
        outgoing=replace(config.outgoing, oauth2=fixed(config.outgoing.oauth2)),
    )
