"""Removing from an agent's reply what tierdesk itself sent them, however their client quoted it.

Quote headers come in every language and shape, and some clients add none
at all, so the notice text is the better witness: any line of the reply
that is a piece of a notice we sent (after folding case, white space and
quote markers, so a re-wrapped quote still matches) belongs to a quoted
block, and the block goes, with the header lines the client wrote above it.
What the agent typed between quoted blocks stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
_QUOTE_MARKS_RE = re.compile(r"^(?:\s*[>|])+\s?")
_NON_WORD_RE = re.compile(r"[\W_]+")
_SEPARATOR_RE = re.compile(r"^\s*(?:[-_=*]\s*){3,}$")
# "From: x", "Van: x", "差出人: x", "**Sent:** x": a short field name, then a colon
_FIELD_RE = re.compile(r"^\s*\**[^\s:：]{1,20}(?:\s[^\s:：]{1,20}){0,2}\**\s?[:：]")
_ATTRIBUTION_RE = re.compile(r"[:：]\s*$")
MIN_MATCH_CHARS = 12  # shorter lines ("Thanks,", "Alice") prove nothing alone
MAX_HEADER_LINES = 8
MAX_SENT_CHARS = 400_000


def strip_sent(text: str, sent: Iterable[str]) -> str:
    """`text` without the blocks that quote any of `sent`, and the headers above them."""
    normals = (_normal(line) for body in sent for line in _lines(body))
    witness = " ".join(n for n in normals if n)
    witness = f" {witness[:MAX_SENT_CHARS]} "
    if not witness.strip():
        return text
    lines = _lines(text)
    ours = _mark_ours(lines, witness)
    if not any(ours):
        return text
    drop = list(ours)
    for start in _block_starts(ours, lines):
        for index in _header_above(lines, start):
            drop[index] = True
    # a quote mark with nothing after it is a blank line of a quote
    kept = [
        "" if _is_quote_only(line) else line
        for line, gone in zip(lines, drop, strict=True)
        if not gone
    ]
    return "\n".join(_trim_blank_runs(kept)).strip("\n")


def _is_quote_only(line: str) -> bool:
    return (
        bool(_QUOTE_MARKS_RE.match(line)) and not _QUOTE_MARKS_RE.sub("", line).strip()
    )


def _lines(text: str) -> list[str]:
    return _LINE_BREAK_RE.split(text)


def _normal(line: str) -> str:
    """A line as compared: no quote marks, case folded, words joined by one space."""
    unquoted = _QUOTE_MARKS_RE.sub("", line)
    return " ".join(_NON_WORD_RE.sub(" ", unquoted.casefold()).split())


def _mark_ours(lines: list[str], witness: str) -> list[bool]:
    """Which lines are pieces of what we sent.

    A long line is ours when the notices contain it; a short one ("Hello,",
    "Alice") only where it stands in the notices right next to a line already
    found ours, or is quoted beside one.
    """
    normal = [_normal(line) for line in lines]
    ours = [len(n) >= MIN_MATCH_CHARS and f" {n} " in witness for n in normal]
    for run in _quoted_runs(lines):
        # short quoted lines that together are a piece of a notice ("> Thanks," "> Alice")
        joined = " ".join(normal[i] for i in run if normal[i])
        if len(joined) >= MIN_MATCH_CHARS and f" {joined} " in witness:
            for i in run:
                ours[i] = ours[i] or bool(normal[i])
    changed = True
    while changed:
        changed = False
        for index, line in enumerate(lines):
            if ours[index] or not normal[index]:
                continue
            if _joins_ours(normal, ours, index, witness) or (
                _QUOTE_MARKS_RE.match(line) and _beside_ours(normal, ours, index)
            ):
                ours[index] = changed = True
    return ours


def _quoted_runs(lines: list[str]) -> list[list[int]]:
    """The indexes of each run of consecutive quoted lines."""
    runs: list[list[int]] = []
    for index, line in enumerate(lines):
        if not _QUOTE_MARKS_RE.match(line):
            continue
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _joins_ours(normal: list[str], ours: list[bool], index: int, witness: str) -> bool:
    """Whether a line stands in the notices right next to a neighbour that is ours."""
    before, after = _neighbour(normal, index, -1), _neighbour(normal, index, +1)
    joins_after = (
        after is not None
        and ours[after]
        and f" {normal[index]} {normal[after]} " in witness
    )
    joins_before = (
        before is not None
        and ours[before]
        and f" {normal[before]} {normal[index]} " in witness
    )
    return joins_after or joins_before


def _beside_ours(normal: list[str], ours: list[bool], index: int) -> bool:
    """Whether the nearest line with words above or below is ours."""
    return any(
        i is not None and ours[i]
        for i in (_neighbour(normal, index, -1), _neighbour(normal, index, +1))
    )


def _neighbour(normal: list[str], index: int, step: int) -> int | None:
    """The nearest line with words, going `step` from `index`."""
    index += step
    while 0 <= index < len(normal):
        if normal[index]:
            return index
        index += step
    return None


def _block_starts(ours: list[bool], lines: list[str]) -> list[int]:
    """The first line of each run of our lines (blank lines do not break a run)."""
    starts, inside = [], False
    for index, line in enumerate(lines):
        if ours[index]:
            if not inside:
                starts.append(index)
            inside = True
        elif line.strip():
            inside = False
    return starts


def _header_above(lines: list[str], start: int) -> list[int]:
    """The quote header a client wrote right above a quoted block, if it looks like one.

    Quote marks do not count: Apple Mail quotes its own attribution.
    """
    bare = [_QUOTE_MARKS_RE.sub("", line) for line in lines]
    index = start - 1
    blanks = []
    while index >= 0 and not bare[index].strip():
        blanks.append(index)
        index -= 1
    header: list[int] = []
    while index >= 0 and bare[index].strip() and len(header) < MAX_HEADER_LINES:
        line = bare[index]
        if not (
            _FIELD_RE.match(line)
            or _SEPARATOR_RE.match(line)
            or _ATTRIBUTION_RE.search(line)
        ):
            break
        header.append(index)
        index -= 1
    # a lone field-like line could be the agent's own ("Note: ..."): an attribution
    # or a block of fields is a header, one stray line is not
    if len(header) == 1 and not _ATTRIBUTION_RE.search(bare[header[0]]):
        return []
    while index >= 0 and _SEPARATOR_RE.match(bare[index]):  # Outlook's rule above
        header.append(index)
        index -= 1
    return header + (blanks if header else [])


def _trim_blank_runs(lines: list[str]) -> list[str]:
    """At most one blank line in a row, none at the end."""
    out: list[str] = []
    for line in lines:
        if not line.strip() and out and not out[-1].strip():
            continue
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return out
