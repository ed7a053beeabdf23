"""The new part of a reply: quoted history, signature and mobile footer removed.

Agents answer from their own mail clients, so a reply carries the client's
history in one of its many shapes: an "On ... wrote:" attribution (in the
languages our agents use), an "Original Message" separator, an Outlook
From/Sent/To block, a trailing run of "> " lines. The first of these that is
really history cuts the text; quotes with the agent's answers in between stay.
"""

from __future__ import annotations

import hashlib
import re

from tierdesk.parsers.commands import is_command_line

_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
# Attributions and header fields are short; longer lines are never tried
# against the patterns below, which keeps them linear on hostile input.
_MAX_HEADER_CHARS = 300
_MAX_HEADER_LINES = 3  # clients wrap a long attribution over two or three lines
_FIELD_WINDOW = 4  # Outlook fields after "From:", blank lines not counted
_FIELD_SCAN = 8  # ... looked for among this many following lines

# Attributions that begin with a fixed word may be wrapped by the client.
_WRAPPED_START_RE = re.compile(r"(?:On|Am|Le|Op)\s")
_WRAPPED_HEADER_RES = (
    re.compile(r"On\s.+\swrote\s?:"),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"Am\s.+\sschrieb(?:\s.*)?:"),
    re.compile(r"Le\s.+\sa\s+écrit\s?:"),
    re.compile(r"Op\s.+\sschreef\s.*:"),  # Dutch
)
_HEADER_RES = (
    re.compile(r".+\sschrieb\s+am\s.+:"),
    re.compile(r".+\s(?:пишет|написала?|написал\s?\(а\))\s?:"),
    # Gmail in Russian, Yandex, Mail.ru: "date, time, name <addr>:", no verb.
    re.compile(r"[^<>]*\d{1,2}:\d{2}[^<>]*<[^<>\s@]+@[^<>\s]+>\s?[:：]"),
    # Japanese: "... が書きました:", Apple Mail "... のメール:"
    re.compile(r".+(?:が書きました|のメール)\s?[:：]"),
)
# Looser, for the line just above a trailing quote block: no date needed there.
_ATTRIBUTION_RE = re.compile(
    r".*(?:\swrote|\sschrieb|\sa\s+écrit|\sschreef|\sпишет|\sнаписала?"
    r"|\sнаписал\s?\(а\)|が書きました|のメール|>)\s?[:：]",
    re.IGNORECASE,
)
_ORIGINAL_RE = re.compile(
    r"-{2,}\s*(?:original\s+message|ursprüngliche\s+nachricht|message\s+d'origine"
    r"|исходное\s+сообщение|оригинальное\s+сообщение)\s*-{2,}",
    re.IGNORECASE,
)
_FORWARD_RE = re.compile(
    r"-{2,}\s*(?:forwarded\s+message|weitergeleitete\s+nachricht"
    r"|message\s+transféré|пересылаемое\s+сообщение|пересланное\s+сообщение)\s*-{2,}"
    r"|begin\s+forwarded\s+message\s?:"
    r"|anfang\s+der\s+weitergeleiteten\s+(?:e-mail|nachricht)\s?:"
    r"|début\s+du\s+message\s+réexpédié\s?:"
    r"|начало\s+переадресованного\s+сообщения\s?:",
    re.IGNORECASE,
)
_FOOTER_RE = re.compile(
    r"(?:sent\s+from\s+my\s+\S.{0,40}"
    r"|sent\s+from\s+(?:mail|outlook|yahoo\s+mail)\b.{0,40}"
    r"|get\s+outlook\s+for\s+(?:ios|android)"
    r"|von\s+meinem\s+\S.{0,40}\s+gesendet\.?"
    r"|envoyé\s+de\s+mon\s+\S.{0,40}"
    r"|отправлено\s+(?:с|из)\s.{0,40}"
    r"(?:iphone|ipad|android|samsung|galaxy|почт|яндекс|mail\.ru).{0,20})"
    r"(?:\s*<[^<>\s]*>)?",  # Outlook mobile appends its link as "<https://...>"
    re.IGNORECASE,
)
_FIELD_RE = re.compile(
    r"\*{0,2}([^\W\d_]+(?: [^\W\d_]+)?)\s?\*{0,2}\s?[:：](?:\s|\*|$)"
)
_FROM_FIELDS = frozenset(
    {"from", "von", "от", "от кого", "de", "van", "差出人", "送信者"}
)
_DATE_FIELDS = frozenset(
    {
        "sent",
        "date",
        "gesendet",
        "datum",
        "отправлено",
        "дата",
        "envoyé",
        "enviado",
        "verzonden",
        "送信日時",
        "日付",
    }
)
_TO_FIELDS = frozenset(
    {
        "to",
        "subject",
        "an",
        "betreff",
        "кому",
        "тема",
        "à",
        "objet",
        "para",
        "asunto",
        "aan",
        "onderwerp",
        "宛先",
        "件名",
    }
)
_RULE_RE = re.compile(r"_{5,}|-{5,}")  # Outlook draws one above its header block
_FINGERPRINT_NOISE = re.compile(r"[\W\d_]+")


def strip_quoted(text: str) -> str:
    """The new part of a reply: no quoted history, signature or mobile footer.

    Lines lose trailing whitespace; when nothing would remain, the whole text is kept.
    """
    lines = [line.rstrip() for line in _LINE_BREAK_RE.split(text)]
    forward = _forward_at_top(lines)
    if forward is not None:
        # A forward the agent starts with is the point of the mail, not history.
        kept = [
            line
            for index, line in enumerate(lines)
            if index >= forward or not _is_footer(line)
        ]
        return _join(kept)
    new_part = _join(_drop_trailing_quotes(lines[: _cut_index(lines)]))
    return new_part or _join(lines)


def text_fingerprint(text: str) -> str:
    """What a mail says, with quotes, digits, punctuation and spacing folded away.

    Two mails that say the same in other words than numbers get the same
    fingerprint: how a robot repeating itself is noticed.
    """
    if not text.strip():
        return ""
    words = _FINGERPRINT_NOISE.sub(" ", strip_quoted(text)[:4000].casefold()).split()
    return hashlib.sha1(" ".join(words).encode()).hexdigest()


def _forward_at_top(lines: list[str]) -> int | None:
    """The index of a forward marker preceded only by blanks, commands or footers."""
    for index, line in enumerate(lines):
        if not line.strip() or is_command_line(line) or _is_footer(line):
            continue
        return index if _FORWARD_RE.fullmatch(line.strip()) else None
    return None


def _cut_index(lines: list[str]) -> int:
    """Where the history starts: the first cut point that is not an interleaved reply."""
    cuts = _cut_points(lines)
    for number, (start, end, is_header) in enumerate(cuts):
        if is_header:
            stop = cuts[number + 1][0] if number + 1 < len(cuts) else len(lines)
            if _is_interleaved(lines[end:stop]):
                continue
        return start
    return len(lines)


def _cut_points(lines: list[str]) -> list[tuple[int, int, bool]]:
    """Each place history may start: (first line, line after it, is an attribution)."""
    points: list[tuple[int, int, bool]] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if not stripped or stripped.startswith(">"):
            pass  # quoted lines are history or context, never where it starts
        elif line == "--" or _is_footer(line) or _is_separator(stripped):
            points.append((index, index + 1, False))
        elif _outlook_block_at(lines, index):
            points.append((_rule_above(lines, index), index + 1, False))
        else:
            end = _header_end(lines, index)
            if end is not None:
                points.append((index, end, True))
                index = end
                continue
        index += 1
    return points


def _is_separator(stripped: str) -> bool:
    if len(stripped) > _MAX_HEADER_CHARS:
        return False
    return bool(_ORIGINAL_RE.fullmatch(stripped) or _FORWARD_RE.fullmatch(stripped))


def _is_footer(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) <= _MAX_HEADER_CHARS and bool(_FOOTER_RE.fullmatch(stripped))


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def _header_end(lines: list[str], index: int) -> int | None:
    """The index after an attribution line (maybe wrapped) starting at `index`, or None."""
    first = lines[index].strip()
    if not first or len(first) > _MAX_HEADER_CHARS or _is_quote(first):
        return None
    if any(pattern.fullmatch(first) for pattern in _HEADER_RES):
        return index + 1 if _looks_dated(lines, index + 1, first) else None
    if not _WRAPPED_START_RE.match(first):
        return None
    joined = first
    for end in range(index + 1, min(index + _MAX_HEADER_LINES, len(lines)) + 1):
        if any(pattern.fullmatch(joined) for pattern in _WRAPPED_HEADER_RES):
            return end if _looks_dated(lines, end, joined) else None
        # A sentence that ends is prose, not the first half of an attribution.
        if end == len(lines) or joined.endswith((".", "!", "?")):
            return None
        following = lines[end].strip()
        if not following or _is_quote(following) or len(joined) > _MAX_HEADER_CHARS:
            return None
        joined = f"{joined} {following}"
    return None


def _looks_dated(lines: list[str], after: int, header: str) -> bool:
    """Tell an attribution from prose such as "On reflection, here is what I wrote:"."""
    if any(char.isdigit() for char in header) or "@" in header:
        return True
    while after < len(lines) and not lines[after].strip():
        after += 1
    return after < len(lines) and _is_quote(lines[after])


def _outlook_block_at(lines: list[str], index: int) -> bool:
    """True when a From: line is followed closely by a date field and a To/Subject field."""
    if _field(lines[index]) not in _FROM_FIELDS:
        return False
    window = [
        line for line in lines[index + 1 : index + 1 + _FIELD_SCAN] if line.strip()
    ]
    fields = {_field(line) for line in window[:_FIELD_WINDOW]}
    return bool(fields & _DATE_FIELDS and fields & _TO_FIELDS)


def _field(line: str) -> str | None:
    stripped = line.strip()
    if len(stripped) > _MAX_HEADER_CHARS:
        return None
    found = _FIELD_RE.match(stripped)
    return found.group(1).lower() if found else None


def _rule_above(lines: list[str], index: int) -> int:
    """The index of the rule line Outlook draws above its block, else `index` itself."""
    above = index - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    if above >= 0 and _RULE_RE.fullmatch(lines[above].strip()):
        return above
    return index


def _is_interleaved(region: list[str]) -> bool:
    """True when quoted history is followed by the agent's own lines.

    History that does not start quoted (Outlook, HTML rendered to text) is
    history all the way down, even if it quotes older mail itself.
    """
    content = [line for line in region if line.strip()]
    if not content or not _is_quote(content[0]):
        return False
    return any(not _is_quote(line) for line in content)


def _drop_trailing_quotes(lines: list[str]) -> list[str]:
    """Without a final run of quoted and blank lines, and the attribution above it."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or _is_quote(lines[end - 1])):
        end -= 1
    if not any(_is_quote(line) for line in lines[end:]):
        return lines
    above = lines[end - 1].strip() if end else ""
    if len(above) <= _MAX_HEADER_CHARS and _ATTRIBUTION_RE.fullmatch(above):
        end -= 1
    return lines[:end]


def _join(lines: list[str]) -> str:
    """The lines as text, without blank lines at either end."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])
