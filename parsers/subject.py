"""Subject lines: reply prefixes, our ticket token `[TAG #123]`, trailing `[k=v]` args.

Parsing eats from the left, as Roundup's mail gateway does: the chain of
reply/forward prefixes (in the languages our customers write), then our token,
found anywhere so that a mailing-list tag may come first, then `[key=value]`
args at the end. What remains is the title.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tierdesk.parsers.parsed import SubjectInfo

# Reply and forward prefixes written by mail clients, in many languages:
# English, German (AW, WG, Antw), Nordic (SV, VS), French (Réf, TR),
# Spanish (RV), Polish (Odp), Portuguese (Enc), Russian.
_PREFIX_WORDS = "пересл|ответ|отв|antw|réf|ref|fwd|fw|re|aw|wg|sv|vs|tr|rv|odp|enc"
_PREFIX_RE = re.compile(
    rf"\s*(?:{_PREFIX_WORDS})\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*", re.IGNORECASE
)
_TAGS_RE = re.compile(r"\s*(?:\[[^\[\]]*\]\s*)+")
_ARG_RE = re.compile(r"\s*([A-Za-z][\w-]*)\s*=(.*)", re.DOTALL)
_SPACE_RE = re.compile(r"\s+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def strip_reply_prefixes(subject: str) -> str:
    """Remove a chain of Re:/Fwd:/AW:/Отв:... prefixes, also after a leading [list] tag.

    A list tag in front of the prefixes is kept: "[users] Re: x" gives "[users] x".
    """
    rest = subject.strip()
    kept: list[str] = []
    pos = 0
    while True:
        prefix = _PREFIX_RE.match(rest, pos)
        if prefix:
            pos = prefix.end()
            continue
        tags = _TAGS_RE.match(rest, pos)
        if tags and _PREFIX_RE.match(rest, tags.end()):
            kept.append(tags.group().strip())
            pos = tags.end()
            continue
        break
    return " ".join([*kept, rest[pos:]]).strip()


def parse_subject(subject: str, tag: str) -> SubjectInfo:
    """Split a subject into our ticket number (or None), the clean title and [k=v] args.

    Only `[TAG #n]` with our own tag counts, in any case and spacing.
    """
    rest, args = _split_args(subject)
    rest = strip_reply_prefixes(rest)
    token_re = _token_re(tag)
    found = token_re.search(rest)
    ticket = int(found.group(1)) if found else None
    title = strip_reply_prefixes(token_re.sub(" ", rest))
    return SubjectInfo(
        ticket=ticket, title=_SPACE_RE.sub(" ", title).strip(), args=args
    )


def format_subject(tag: str, number: int, title: str) -> str:
    """The subject of mail about a ticket: `[TAG #123] title`, one token only.

    The title loses its reply prefixes and any token, so tokens never stack.
    """
    clean = parse_subject(_CONTROL_RE.sub(" ", title), tag).title
    token = f"[{tag} #{number}]"
    return f"{token} {clean}" if clean else token


def _token_re(tag: str) -> re.Pattern[str]:
    name = r"\s+".join(re.escape(word) for word in tag.split())
    # At most 18 digits: int() refuses very long digit strings, and no
    # helpdesk reaches 10**18 tickets.
    return re.compile(rf"\[\s*{name}\s*#\s*(\d{{1,18}})\s*\]", re.IGNORECASE)


def _split_args(subject: str) -> tuple[str, dict[str, str]]:
    """Cut trailing `[k=v]` / `[k=v;k2=v2]` groups off; other brackets stay."""
    groups: list[list[tuple[str, str]]] = []
    end = len(subject.rstrip())
    # Scanned by hand, right to left: a regex search here went quadratic on
    # long runs of spaces or brackets, and subjects come from strangers.
    while end and subject[end - 1] == "]":
        start = subject.rfind("[", 0, end)
        if start < 0:
            break
        items = [
            item for item in subject[start + 1 : end - 1].split(";") if item.strip()
        ]
        pairs = [_ARG_RE.fullmatch(item) for item in items]
        if not pairs or None in pairs:
            break  # "[see a=b here]" is part of the title, not args
        groups.append([(p.group(1).lower(), p.group(2).strip()) for p in pairs if p])
        end = start
        while end and subject[end - 1].isspace():
            end -= 1
    # Groups were cut right to left; apply them left to right so the last wins.
    args = {key: value for group in reversed(groups) for key, value in group}
    return subject[:end], args


def is_status_request(subject: str, text: str, words: Iterable[str]) -> bool:
    """True for a mail whose subject (or, with none, first line) is just a status word."""
    wanted = {w.casefold() for w in words}
    title = strip_reply_prefixes(subject).strip(" .?!").casefold()
    if title:
        return title in wanted
    first = next((line for line in text.splitlines() if line.strip()), "")
    return first.strip(" .?!").casefold() in wanted
