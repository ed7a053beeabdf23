"""Attachment filenames made safe to store, show and offer for download.

A filename comes from the sender: it may carry a path, `..`, control
characters, right-to-left overrides that disguise `exe` as `pdf`, or hundreds
of characters. What comes out is one plain name that keeps the sender's
Unicode and extension.
"""

from __future__ import annotations

import re
import unicodedata

_MAX_BYTES = 200  # NAME_MAX is 255 bytes; leave room for "-1" suffixes
_MAX_EXTENSION = 16
# Cc controls, plus the invisible format characters used to spoof names:
# bidi embeddings, overrides and isolates, zero-width and line separators.
_INVISIBLE_RE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]+"
)
_RESERVED_RE = re.compile(r'[<>:"|?*]')  # not allowed on Windows
_SPACES_RE = re.compile(r"\s+")
_WINDOWS_DEVICES = frozenset(
    ["con", "prn", "aux", "nul"]
    + [f"com{i}" for i in range(1, 10)]
    + [f"lpt{i}" for i in range(1, 10)]
)


def sanitize_filename(name: str, fallback: str = "attachment") -> str:
    """One safe filename component from a sender's name; never empty.

    No separators, traversal, controls or leading dots; capped at 200 UTF-8 bytes.
    """
    clean = _clean(name if isinstance(name, str) else "")
    if not clean:
        clean = _clean(fallback) or "attachment"
    return _cap(clean)


def _clean(name: str) -> str:
    name = unicodedata.normalize("NFC", name)
    # Keep only the last path component, whichever separator the sender used.
    parts = [p for p in re.split(r"[/\\]", name) if p.strip(" .")]
    name = parts[-1] if parts else ""
    name = _INVISIBLE_RE.sub(" ", name)
    name = _RESERVED_RE.sub("_", name)
    name = _SPACES_RE.sub(" ", name)
    # Leading dots hide files and make `..`; trailing dots and spaces are
    # silently dropped by Windows, which turns `a.exe.` into `a.exe`.
    name = name.strip(" ").lstrip(".").rstrip(". ")
    stem = name.split(".", 1)[0]
    if stem.strip().lower() in _WINDOWS_DEVICES:
        name = "_" + name
    return name


def _cap(name: str) -> str:
    if len(name.encode("utf-8")) <= _MAX_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > _MAX_EXTENSION or not ext.isalnum():
        return _truncate(name, _MAX_BYTES)
    suffix = "." + ext
    room = _MAX_BYTES - len(suffix.encode("utf-8"))
    return _truncate(stem, room).rstrip(". ") + suffix


def _truncate(text: str, max_bytes: int) -> str:
    # Cut on a character boundary, never inside a UTF-8 sequence.
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")
