"""Words to Snowball stems, for the full-text index and its queries (pure).

SQLite's FTS5 has no Russian stemmer (its `porter` tokenizer is English
only), so on SQLite the index holds stems made here, and a query is stemmed
the same way. Each word is stemmed by its own script: Cyrillic words by the
Russian Snowball stemmer, others by the English one, so a Russian mail that
names an English product finds it either way. `snowballstemmer` is the
Snowball project's own generated Python (it uses PyStemmer's C code when
that is installed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import snowballstemmer

# a word: letters and digits, with inner apostrophes or hyphens kept out
WORD_RE = re.compile(r"[^\W_]+")
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
MAX_WORD_CHARS = 40  # longer "words" are hashes, base64, URLs: never searched for
# a query word whose stem is at least this long also matches longer stems,
# so "printing" (print) finds "printer" (the stemmer keeps that one whole)
PREFIX_FROM = 4

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
        "re",
        "fw",
        "fwd",
        "hi",
        "hello",
        "please",
        "thanks",
        "thank",
        "regards",
        "dear",
        "и",
        "в",
        "во",
        "не",
        "что",
        "он",
        "на",
        "я",
        "с",
        "со",
        "как",
        "а",
        "то",
        "все",
        "она",
        "так",
        "его",
        "но",
        "да",
        "ты",
        "к",
        "у",
        "же",
        "вы",
        "за",
        "бы",
        "по",
        "только",
        "ее",
        "мне",
        "было",
        "вот",
        "от",
        "меня",
        "еще",
        "нет",
        "о",
        "из",
        "ему",
        "теперь",
        "когда",
        "даже",
        "ну",
        "ли",
        "если",
        "уже",
        "или",
        "ни",
        "быть",
        "был",
        "него",
        "до",
        "вас",
        "нибудь",
        "опять",
        "уж",
        "вам",
        "ведь",
        "там",
        "потом",
        "себя",
        "ничего",
        "ей",
        "может",
        "они",
        "тут",
        "где",
        "есть",
        "надо",
        "ней",
        "для",
        "мы",
        "тебя",
        "их",
        "чем",
        "была",
        "сам",
        "чтоб",
        "без",
        "будто",
        "чего",
        "раз",
        "тоже",
        "себе",
        "под",
        "будет",
        "ж",
        "тогда",
        "кто",
        "этот",
        "того",
        "потому",
        "этого",
        "какой",
        "совсем",
        "ним",
        "здесь",
        "этом",
        "один",
        "почти",
        "мой",
        "тем",
        "чтобы",
        "нее",
        "сейчас",
        "были",
        "куда",
        "зачем",
        "всех",
        "никогда",
        "можно",
        "при",
        "наконец",
        "два",
        "об",
        "другой",
        "хоть",
        "после",
        "над",
        "больше",
        "тот",
        "через",
        "эти",
        "нас",
        "про",
        "всего",
        "них",
        "какая",
        "много",
        "разве",
        "три",
        "эту",
        "моя",
        "впрочем",
        "хорошо",
        "свою",
        "этой",
        "перед",
        "иногда",
        "лучше",
        "чуть",
        "том",
        "нельзя",
        "такой",
        "им",
        "более",
        "всегда",
        "конечно",
        "всю",
        "между",
        "здравствуйте",
        "спасибо",
        "пожалуйста",
        "добрый",
        "день",
    ]
)


@lru_cache(maxsize=4)
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


def words(text: str) -> Iterator[str]:
    """The words of `text`, lower-cased, with ё as е (as both stemmers read it)."""
    for match in WORD_RE.finditer(text.lower().replace("ё", "е")):
        if len(word := match.group()) <= MAX_WORD_CHARS:
            yield word


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """The Snowball stem of one lower-case word, by its script (Russian or English)."""
    language = "russian" if _CYRILLIC_RE.search(word) else "english"
    return _stemmer(language).stemWord(word)


def stems(text: str) -> list[str]:
    """Every word's stem, in order (stop words too: the index keeps positions)."""
    return [stem(word) for word in words(text)]


def indexed_text(text: str) -> str:
    """What the SQLite index holds for `text`: its stems, space-separated."""
    return " ".join(stems(text))


def query_terms(text: str, limit: int = 12) -> list[str]:
    """The distinct stems a query (or a ticket looked up as one) asks for, stop words
    left out, in order of first appearance, at most `limit`."""
    seen: dict[str, None] = {}
    for word in words(text):
        if word in STOP_WORDS or len(word) < 2:
            continue
        seen.setdefault(stem(word), None)
        if len(seen) >= limit:
            break
    return list(seen)


def text_language(text: str) -> str:
    """'ru' for text written mostly in Cyrillic letters, else 'en' (as parsers/language.py)."""
    sample = text[:2000]
    cyrillic = len(_CYRILLIC_RE.findall(sample))
    return "ru" if cyrillic > len(_LATIN_RE.findall(sample)) else "en"


def snippet(text: str, terms: list[str], width: int = 12, marks: str = "[]") -> str:
    """About `width` words of `text` around its first word whose stem a query term
    matches, with the matched words marked: the customer's own words, not stems."""
    flat = " ".join(text.split())
    found = [m for m in WORD_RE.finditer(flat) if _matches(m.group().lower(), terms)]
    if not found:
        return _shorten(flat, width)
    spans = list(WORD_RE.finditer(flat))
    first = next(i for i, m in enumerate(spans) if m.start() == found[0].start())
    low, high = max(0, first - width // 3), min(len(spans), first + width - width // 3)
    start, end = spans[low].start(), spans[high - 1].end()
    piece = flat[start:end]
    for m in reversed([m for m in found if start <= m.start() < end]):
        a, b = m.start() - start, m.end() - start
        piece = f"{piece[:a]}{marks[0]}{piece[a:b]}{marks[1]}{piece[b:]}"
    return ("…" if start else "") + piece + ("…" if end < len(flat) else "")


def _matches(word: str, terms: list[str]) -> bool:
    s = stem(word.replace("ё", "е"))
    return any(s == t or (is_prefix_term(t) and s.startswith(t)) for t in terms)


def _shorten(flat: str, width: int) -> str:
    spans = list(WORD_RE.finditer(flat))
    if len(spans) <= width:
        return flat
    return flat[: spans[width - 1].end()] + "…"


def is_prefix_term(term: str) -> bool:
    """Whether a query stem also matches longer stems (see PREFIX_FROM)."""
    return len(term) >= PREFIX_FROM and not term.isdigit()
