"""Header decoding for `parse_mail`: raw compat32 values in, clean text out.

The compat32 parser hands every header value over as an ASCII string in which
each 8-bit byte is a lone surrogate (surrogateescape); everything here starts
from that form. Decoded subjects and names are single lines, so a CR/LF hidden
in an encoded word can never reach a reply's headers.
"""

from __future__ import annotations

import binascii
import re
from email import policy

_POLICY = policy.default
_UNSTRUCTURED = _POLICY.header_factory["x-tierdesk-unstructured"]  # as for Subject

_SURROGATE_RE = re.compile(r"[\ud800-\udfff]+")
_STRAY_SURROGATE_RE = re.compile(r"[\ud800-\udc7f\udd00-\udfff]")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")
# Anything but space, controls, brackets and raw bytes: RFC 6532 allows UTF-8.
_ID_CHARS = r"[^\s<>\x00-\x1f\x7f\ud800-\udfff]+"
_ID_RE = re.compile(rf"<\s*({_ID_CHARS})\s*>")
_BARE_ID_RE = re.compile(_ID_CHARS)
_MAX_ID_LENGTH = 500
_MAX_NOTE_LENGTH = 300
_ASCII_OR_UTF8 = ("us-ascii", "ascii", "utf-8", "utf8")
_NOT_UTF8 = "raw 8-bit bytes are not UTF-8; decoded as {}"
# past this, policy.default is too slow for a header (~250 addresses, ~50 ms)
MAX_POLICY_LENGTH = 8192
# One encoded word; no part can run past a '?' or a space, so scanning is linear.
_WORD_RE = re.compile(
    r"=\?(?P<charset>[^?\s]+)\?(?P<encoding>[bBqQ])\?(?P<text>[^?\s]*)\?="
)
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")

_LOW_BYTES = bytes(range(0x80))
_NOT_ASCII_LETTERS = bytes(
    b for b in range(256) if not chr(b).isascii() or not chr(b).isalpha()
)
_NOT_C0_DF = bytes(b for b in range(256) if not 0xC0 <= b <= 0xDF)
_NOT_E0_FF = bytes(range(0xE0))


def single_line(text: str) -> str:
    """Make header text one clean line: control-character runs become one space.

    Leftover raw bytes (lone surrogates) are decoded too, so the result is valid UTF-8.
    """
    if not text.isascii():
        text = repair_surrogates(text)
    return _CONTROL_RE.sub(" ", text).strip()


def clip_note(text: str) -> str:
    """A defect note as one line of valid UTF-8, at most 300 characters.

    Evidence quoted from the wire may hold lone surrogates (raw 8-bit bytes).
    """
    text = single_line(text).encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) <= _MAX_NOTE_LENGTH:
        return text
    return text[: _MAX_NOTE_LENGTH - 1] + "…"


def repair_surrogates(text: str) -> str:
    """Decode raw bytes left in a str as lone surrogates (UTF-8, else a legacy guess).

    policy.default leaves them in names whose encoded word has an unknown charset.
    """
    if not _SURROGATE_RE.search(text):
        return text
    text = _STRAY_SURROGATE_RE.sub("\ufffd", text)  # not from surrogateescape
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        charset = guess_legacy_charset(data)
    return _SURROGATE_RE.sub(
        lambda run: (
            run.group().encode("utf-8", "surrogateescape").decode(charset, "replace")
        ),
        text,
    )


def unfold(value: str) -> str:
    """Undo RFC 5322 folding: drop each line break that precedes whitespace."""
    return _FOLD_RE.sub("", value) if "\n" in value else value


def guess_legacy_charset(data: bytes) -> str:
    """Guess the charset of non-UTF-8 bytes: windows-1251, koi8-r or windows-1252."""
    high = data.translate(None, _LOW_BYTES)
    ascii_letters = len(data.translate(None, _NOT_ASCII_LETTERS))
    if not high or len(high) < ascii_letters:
        # Western text has a few accented letters among many ASCII ones;
        # Cyrillic text is made of high bytes.
        return "windows-1252"
    # Running text is mostly lower case: a-ya sit at 0xE0-0xFF in
    # windows-1251 and at 0xC0-0xDF in koi8-r.
    lower_1251 = len(high.translate(None, _NOT_E0_FF))
    lower_koi8 = len(high.translate(None, _NOT_C0_DF))
    return "windows-1251" if lower_1251 >= lower_koi8 else "koi8-r"


def decode_text_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode body or header bytes; returns the text and a note when we had to guess.

    The declared charset wins when it works; then UTF-8; then a legacy guess.
    """
    if declared:
        try:
            return data.decode(declared), None
        except (LookupError, ValueError):  # ValueError: NUL in the name
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        guess = guess_legacy_charset(data)
        text = data.decode(guess, "replace")
    else:
        guess = "utf-8"
        if not declared or declared.lower() in _ASCII_OR_UTF8:
            return text, None
    what = f"charset {declared!r} failed" if declared else "no charset declared"
    return text, f"{what}; decoded as {guess}"


def text_from_8bit(value: str, fallback_charset: str | None) -> tuple[str, str | None]:
    """Turn raw 8-bit header bytes (surrogateescape) into text.

    UTF-8 first (RFC 6532), then the message's own text charset, then a legacy guess.
    """
    if value.isascii():
        return value, None
    try:
        data = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value, None  # already real text, not escaped bytes
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    hint = fallback_charset
    if hint and hint.lower() not in _ASCII_OR_UTF8:
        try:
            return data.decode(hint), _NOT_UTF8.format(hint)
        except (LookupError, ValueError):  # ValueError: NUL in the name
            pass
    guess = guess_legacy_charset(data)
    return data.decode(guess, "replace"), _NOT_UTF8.format(guess)


def decode_header_value(
    value: str, name: str = "subject", fallback_charset: str | None = None
) -> tuple[str, list[str]]:
    """Decode one unstructured header (raw 8-bit bytes, RFC 2047 words) to one line.

    Returns the text and defect notes; never raises.
    """
    notes: list[str] = []
    text, note = text_from_8bit(value, fallback_charset)
    if note:
        notes.append(f"{name}: {note}")
    text = unfold(text)
    if "=?" in text and len(text) > MAX_POLICY_LENGTH:
        # policy.default's decoder is quadratic in the words (10,000 take 1.4 GB);
        # email.header's is linear and good enough for a header nobody reads whole
        notes.append(f"{name}: {len(text)} characters; decoded word by word")
        text = decode_words_leniently(text)
    elif "=?" in text:
        try:
            text = str(_UNSTRUCTURED(name, text))
        except Exception as exc:  # noqa: BLE001 - any parser bug must not stop the mail
            notes.append(f"{name}: RFC 2047 decoding failed ({type(exc).__name__})")
            text = decode_words_leniently(text)
    return single_line(text), notes


def decode_words_leniently(text: str) -> str:
    """Decode RFC 2047 encoded words one by one, in linear time; bad bytes become U+FFFD.

    email.header.decode_header would do, but it is quadratic (list.pop(0) per
    word, bytes += per word): 40,000 words took 2.3 s. Whitespace between two
    encoded words goes, adjacent words in one charset are decoded together (a
    character may be split across them), and a word that does not decode stays
    as it was written.
    """
    out: list[str] = []
    run = bytearray()
    run_charset = ""
    position = 0
    for word in _WORD_RE.finditer(text):
        between = text[position : word.start()]
        if between and not (run and between.isspace()):
            out.append(_decoded_run(run, run_charset))
            out.append(between)
        position = word.end()
        data = _word_bytes(word.group("encoding"), word.group("text"))
        if data is None:  # not decodable: keep it as written
            out.append(_decoded_run(run, run_charset))
            out.append(word.group())
            continue
        charset = word.group("charset").partition("*")[0].lower()  # RFC 2231 language
        if charset != run_charset:
            out.append(_decoded_run(run, run_charset))
            run_charset = charset
        run += data
    out.append(_decoded_run(run, run_charset))
    out.append(text[position:])
    return "".join(out)


def _word_bytes(encoding: str, encoded: str) -> bytes | None:
    """The bytes of one encoded word's text (B or Q), or None when it does not decode."""
    try:
        if encoding in "bB":
            if not _BASE64_RE.fullmatch(encoded):
                return None
            missing = -len(encoded) % 4  # Postel: add the padding a mailer left off
            return binascii.a2b_base64(encoded + "=" * missing)
        return binascii.a2b_qp(encoded.encode("ascii"), header=True)
    except (binascii.Error, ValueError):  # ValueError: a raw byte in the word
        return None


def _decoded_run(run: bytearray, charset: str) -> str:
    """Decode the bytes collected so far (and empty `run`)."""
    if not run:
        return ""
    text = decode_text_bytes(bytes(run), charset)[0]
    run.clear()
    return text


def extract_message_ids(value: str) -> list[str]:
    """All `<id>` message ids in a header value, brackets stripped, first seen first."""
    seen: dict[str, None] = {}
    for found in _ID_RE.findall(_utf8(value)):
        if len(found) <= _MAX_ID_LENGTH:
            seen.setdefault(found, None)
    return list(seen)


def extract_message_id(value: str) -> str | None:
    """The Message-ID in a header value, without brackets; a bare id is tolerated."""
    ids = extract_message_ids(value)
    if ids:
        return ids[0]
    bare = _utf8(unfold(value)).strip()
    if bare and len(bare) <= _MAX_ID_LENGTH and _BARE_ID_RE.fullmatch(bare):
        return bare
    return None


def _utf8(value: str) -> str:
    """Raw 8-bit bytes as UTF-8 text when they are valid UTF-8; else unchanged."""
    if value.isascii():
        return value
    try:
        return value.encode("ascii", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return value
