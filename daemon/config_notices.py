"""The `notices:` section: what a notice to agents carries besides its text."""

from __future__ import annotations

from dataclasses import dataclass, field

from tierdesk.daemon.config_transport import described
from tierdesk.rules.yamlschema import ByteSize


@dataclass(frozen=True)
class NoticesConfig:
    """What notices and vendor hand-overs carry."""

    attach_up_to: ByteSize = field(
        **described(
            "a notice (and a vendor hand-over) carries the customer's attachments"
            " up to this total; above it, their names and sizes and how to get them"
            " (#files); 0: never attach"
        ),
        default=ByteSize(10 * 1024 * 1024),
    )
    files_per_mail: ByteSize = field(
        **described(
            "the most one mail of files (an agent's #files, support+files@) carries;"
            " more files go in more mails, a file bigger than this stays on the server"
        ),
        default=ByteSize(15 * 1024 * 1024),
    )
