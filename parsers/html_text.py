"""Readable plain text from an HTML body, for mail that has no text/plain part.

Built on the stdlib HTMLParser, which tolerates broken markup; this module
adds the layout: paragraphs and line breaks, list bullets, link targets.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul"}
    | {"ol", "dl", "hr"}
)
_BLOCK = frozenset(
    {"div", "section", "article", "header", "footer", "nav", "aside", "main"}
    | {"address", "tr", "li", "dt", "dd", "form", "fieldset", "figure"}
    | {"figcaption", "center", "caption", "details", "summary", "tbody", "thead"}
)
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area"})
_SPACE_RE = re.compile(r"[ \t\r\n\f\v\xa0]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
_UNCLOSED_TAG_RE = re.compile(r"<(?=[^<>]*<)")  # a "<" with no ">" before the next "<"
_TAG_TEXT_RE = re.compile(r"<[A-Za-z/][^<>]*>")
# HTMLParser's comments and marked sections, and what ends each of them.
_SECTIONS = (
    (re.compile(r"<!--"), re.compile(r"-->")),
    (
        re.compile(r"<!\[\s*(?:cdata|temp|ignore|include|rcdata)", re.IGNORECASE),
        re.compile(r"\]\]>"),
    ),
    (re.compile(r"<!\[\s*(?:if|else|endif)", re.IGNORECASE), re.compile(r"\]\s*>")),
)
_TAG_RE = re.compile(r"<[^<>]*>")  # not [^>]: "<<<<..." would be quadratic
_LINKABLE = ("http:", "https:", "ftp:", "mailto:", "tel:")
_MAX_INDENT = 8  # list levels; deeper nesting would make the output quadratic
MAX_HTML_CHARS = 500_000  # HTMLParser needs ~1 s per MB even for sane markup


def html_to_text(html: str) -> str:
    """Render an HTML body as plain text; never raises.

    script/style/head dropped, blocks and <br> become line breaks, <li> "- ".
    Only the first MAX_HTML_CHARS characters are rendered.
    """
    html = html[:MAX_HTML_CHARS] if isinstance(html, str) else ""
    parser = _TextParser()
    try:
        parser.feed(_defuse(html))
        parser.close()
        return parser.text()
    except Exception:  # noqa: BLE001
        # Broken markup must not lose the mail: strip the tags instead.
        return _SPACE_RE.sub(" ", unescape(_TAG_RE.sub(" ", html))).strip()


def _defuse(html: str) -> str:
    """Turn into text every "<" that starts a construct which never ends.

    Python 3.11's HTMLParser rescans to the end of the input for each of them:
    "<a<a<a..." of 100 KB took 10 s, unclosed "<!--" runs were as bad.
    """
    html = _UNCLOSED_TAG_RE.sub("&lt;", html)
    # A quote left open inside a tag sends the tag scan far past its ">".
    html = _TAG_TEXT_RE.sub(_balance_quotes, html)
    for opener, closer in _SECTIONS:
        # Past the last closer, every opener of this kind is unclosed.
        last = max((m.end() for m in closer.finditer(html)), default=0)
        if opener.search(html, last):
            html = html[:last] + opener.sub(
                lambda m: "&lt;" + m.group()[1:], html[last:]
            )
    return html


def _balance_quotes(tag: re.Match[str]) -> str:
    text = tag.group()
    for quote in "\"'":
        if text.count(quote) % 2:
            text = text.replace(quote, "")
    return text


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        # Open script/style/head/... elements, counted per tag: a stack
        # would be scanned for every end tag, quadratic on "<head>" * n.
        self._skipping = dict.fromkeys(_SKIP, 0)
        self._pre_depth = 0
        self._list_depth = 0
        self._links: list[tuple[str, int]] = []  # (href, index of the link text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # Many mailers never close <head>; <body> closes it implicitly.
            self._skipping["head"] = self._skipping["title"] = 0
        if tag in _SKIP:
            self._skipping[tag] += 1
            return
        if self._skipped():
            return
        if tag == "br":
            self._out.append("\n")
        elif tag in ("ul", "ol"):
            self._break(1 if self._list_depth else 2)  # nested lists stay tight
            self._list_depth += 1
        elif tag == "li":
            self._break(1)
            indent = min(max(self._list_depth - 1, 0), _MAX_INDENT)
            self._out.append("  " * indent + "- ")
        elif tag in _PARAGRAPH:
            self._break(2)
            if tag == "pre":
                self._pre_depth += 1
        elif tag in _BLOCK:
            self._break(1)
        elif tag in ("td", "th") and not self._at_line_start():
            self._out.append(" ")
        elif tag == "a":
            href = next((v for k, v in attrs if k == "href" and v), "")
            self._links.append((href.strip(), len(self._out)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and friends: nothing to close afterwards.
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping[tag] = max(self._skipping[tag] - 1, 0)
            return
        if self._skipped():
            return
        if tag in ("ul", "ol"):
            self._list_depth = max(self._list_depth - 1, 0)
            self._break(1 if self._list_depth else 2)
            return
        if tag == "pre":
            self._pre_depth = max(self._pre_depth - 1, 0)
        elif tag == "a" and self._links:
            self._close_link(*self._links.pop())
        if tag in _PARAGRAPH:
            self._break(2)
        elif tag in _BLOCK:
            self._break(1)

    def handle_data(self, data: str) -> None:
        if not data or self._skipped():
            return
        if self._pre_depth:
            self._out.append(data.replace("\r\n", "\n"))
            return
        data = _SPACE_RE.sub(" ", data)
        if self._at_line_start() or self._out[-1].endswith(" "):
            data = data.lstrip(" ")
        if data:
            self._out.append(data)

    def text(self) -> str:
        """The rendered text, with trailing spaces and runs of blank lines removed."""
        lines = [line.rstrip() for line in "".join(self._out).split("\n")]
        return _BLANK_LINES_RE.sub("\n\n", "\n".join(lines)).strip("\n")

    def _close_link(self, href: str, start: int) -> None:
        label = "".join(self._out[start:]).strip()
        if not href.lower().startswith(_LINKABLE):
            return  # javascript:, cid:, #anchors say nothing useful in text
        target = href[7:] if href.lower().startswith("mailto:") else href
        if label.rstrip("/") in (href.rstrip("/"), target.rstrip("/")):
            return
        self._out.append(f" ({href})" if label else href)

    def _skipped(self) -> bool:
        return any(self._skipping.values())

    def _at_line_start(self) -> bool:
        return not self._out or self._out[-1].endswith("\n")

    def _break(self, count: int) -> None:
        """End the line; make sure `count` line breaks precede what follows."""
        if not self._out:
            return
        tail = "".join(self._out[-3:])
        have = len(tail) - len(tail.rstrip("\n"))
        if have < count:
            self._out.append("\n" * (count - have))
