"""Authentication-Results (RFC 8601): what a receiving server says it verified.

Only a header from the site's own server is a fact, so the caller names the
authserv-id it trusts and gets the topmost header with that id; headers
claiming any other id are ignored (a sender can write as many as it likes).
Comments are dropped, quoted values kept; anything unreadable is no result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tierdesk.parsers.idn import comparable_domain
from tierdesk.parsers.parsed import ParsedMail

_MAX_HEADER_CHARS = 8000  # longer values are not parsed at all
_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s"]+')


@dataclass(frozen=True)
class AuthResult:
    """One method's verdict: `dkim=pass header.d=acme.example`."""

    method: str
    result: str
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthResults:
    """One Authentication-Results header: who says it, and the verdicts."""

    authserv_id: str
    results: tuple[AuthResult, ...]

    def passes(self, method: str) -> list[AuthResult]:
        """The results of `method` that say pass."""
        return [r for r in self.results if r.method == method and r.result == "pass"]


def parse_authres(value: str) -> AuthResults | None:
    """One header value, or None when it cannot be read."""
    if len(value) > _MAX_HEADER_CHARS:
        return None
    text = _without_comments(value)
    if text is None:
        return None
    parts = _split_semicolons(text)
    head = parts[0].split()
    if not head:
        return None
    results = []
    for part in parts[1:]:
        result = _result(part)
        if result is not None:
            results.append(result)
    return AuthResults(head[0].lower().rstrip("."), tuple(results))


def trusted_results(mail: ParsedMail, authserv_id: str | None) -> AuthResults | None:
    """The topmost Authentication-Results from our own server, or None."""
    if not authserv_id:
        return None
    wanted = authserv_id.lower().rstrip(".")
    for value in mail.trace_values("authentication-results"):
        parsed = parse_authres(value)
        if parsed is not None and parsed.authserv_id == wanted:
            return parsed
    return None


def domain_of(address: str) -> str:
    """The domain of an address (or of `@domain`), lower-cased."""
    return address.rpartition("@")[2].strip().strip(">").lower().rstrip(".")


def aligned(claimed: str, domain: str) -> bool:
    """True when `claimed` is `domain` or a parent of it (relaxed alignment).

    Both sides are compared as A-labels: a verifier writes `header.d` in
    A-labels, a From may carry the Unicode form of the same domain.
    """
    claimed = comparable_domain(claimed.rstrip("."))
    domain = comparable_domain(domain.rstrip("."))
    if not claimed or "." not in claimed:
        return False
    return domain == claimed or domain.endswith("." + claimed)


def dkim_or_dmarc_pass(results: AuthResults | None, domain: str) -> str | None:
    """Which method vouches for `domain` ('dmarc' or 'dkim'), or None."""
    if results is None or not domain:
        return None
    for result in results.passes("dmarc"):
        if aligned(result.properties.get("header.from", ""), domain):
            return "dmarc"
    for result in results.passes("dkim"):
        signer = result.properties.get("header.d") or domain_of(
            result.properties.get("header.i", "")
        )
        if aligned(signer, domain):
            return "dkim"
    return None


def sender_domain_passes(results: AuthResults | None, domain: str) -> str | None:
    """Which method vouches for a From domain: DMARC, or SPF for the same domain."""
    vouched = dkim_or_dmarc_pass(results, domain)
    if vouched == "dmarc" or results is None:
        return vouched
    for result in results.passes("spf"):
        mail_from = result.properties.get("smtp.mailfrom", "")
        if domain_of(mail_from) == domain.lower():
            return "spf"
    return None


def _without_comments(value: str) -> str | None:
    """The value with (nested) comments removed, outside quoted strings."""
    out, depth, quoted, escaped = [], 0, False, False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if quoted:
            out.append(char)
            quoted = char != '"'
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                return None
            depth -= 1
        elif depth == 0:
            quoted = char == '"'
            out.append(char)
    return None if depth else "".join(out)


def _split_semicolons(text: str) -> list[str]:
    """Split on ';' outside quoted strings."""
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _result(part: str) -> AuthResult | None:
    """`method[/version]=result [reason=...] ptype.property=value ...`."""
    tokens = _TOKEN_RE.findall(_spaced_equals(part))
    if not tokens or "=" not in tokens[0]:
        return None
    method, _, result = tokens[0].partition("=")
    properties = {}
    for token in tokens[1:]:
        key, equals, value = token.partition("=")
        if equals and "." in key:
            properties[key.lower()] = _unquoted(value).lower()
    return AuthResult(method.split("/")[0].lower(), result.lower(), properties)


def _spaced_equals(part: str) -> str:
    """`dkim = pass` as `dkim=pass`: RFC 8601 allows white space around '='."""
    return re.sub(r"\s*=\s*", "=", part.strip())


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value
