"""How much of the customer's files fits in a mail: sizes, listings, batches (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from tierdesk.parsers.parsed import MailAttachment


def size_text(size: int) -> str:
    """A size as people read it: 900 bytes, 12 KB, 3.4 MB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def listing(files: Sequence[MailAttachment]) -> list[dict[str, object]]:
    """Each file's name and size, for a template."""
    return [
        {"name": f.filename, "size": size_text(len(f.data)), "bytes": len(f.data)}
        for f in files
    ]


def carried(
    files: Sequence[MailAttachment], limit: int
) -> tuple[tuple[MailAttachment, ...], dict[str, object]]:
    """What a notice attaches, and the template variables saying so.

    All of them when their total is within `limit`; none otherwise, then
    `held` lists them with their sizes for a `#files` request.
    """
    total = sum(len(f.data) for f in files)
    if files and total <= limit:
        return tuple(files), {"attached": True, "held": [], "held_total": ""}
    return (), {
        "attached": False,
        "held": listing(files),
        "held_total": size_text(total) if files else "",
    }


def batches(
    files: Sequence[MailAttachment], limit: int
) -> tuple[list[list[MailAttachment]], list[MailAttachment]]:
    """The files in as few mails as fit under `limit` each (first fit, in order),
    and those that are alone bigger than `limit` and cannot go at all."""
    groups: list[list[MailAttachment]] = []
    sizes: list[int] = []
    too_large = []
    for f in files:
        size = len(f.data)
        if size > limit:
            too_large.append(f)
            continue
        for i, used in enumerate(sizes):
            if used + size <= limit:
                groups[i].append(f)
                sizes[i] += size
                break
        else:
            groups.append([f])
            sizes.append(size)
    return groups, too_large
