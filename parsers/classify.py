"""Stage 2 of the pipeline: who sent this, a human or a machine?

The answer decides whether anything automatic may ever go back (see
`Classification.is_automatic`). Rules run in a fixed order and the first one
that matches wins, naming its evidence in `reason`:

1. LOOP: our own mail came back (our address as From/Sender/Return-Path, or
   our `X-Tierdesk-Loop` header).
2. BOUNCE: null envelope sender, MAILER-DAEMON/postmaster, a delivery-status report.
3. AUTO_REPLY: RFC 3834 `Auto-Submitted` other than `no`/`auto-generated`,
   X-Autoreply/X-Autorespond, `Precedence: auto_reply`, read receipts,
   Exchange "Automatic reply:" messages.
4. AUTO_GENERATED: `Auto-Submitted: auto-generated` (monitoring, cron).
5. LIST: List-Id, List-Post, X-Mailing-List, `Precedence: list` -- mail a
   list sent to its members. It never opens a ticket.
6. BULK: `List-Unsubscribe` or `Precedence: bulk`/`junk` alone. Newsletters
   carry them, but so does every mail of some senders (gateways and mail
   services add them to stay out of spam folders), so BULK opens a ticket
   like a person's mail and only gets no acknowledgement.
7. HUMAN.

Mail that came through a list of our own (`own_list_ids`: a Google Group or
Mailman list in front of the support address) is judged without the list's
headers, which say nothing about its author.
"""

from __future__ import annotations

import functools
import re
from email.utils import parseaddr

from tierdesk.parsers.parsed import Classification, MailKind, ParsedMail

_NULL_SENDERS = ("", "<>")
_DAEMON_LOCAL_PARTS = ("mailer-daemon", "postmaster")
_COMMENT_RE = re.compile(r"\([^()]*\)")
_LIST_HEADERS = ("list-id", "list-post", "x-mailing-list")
_LIST_ID_RE = re.compile(r"<([^<>]+)>")
# Subject prefixes Exchange/Outlook put on out-of-office replies, which
# carry no RFC 3834 header in older Exchange versions.
_EXCHANGE_AUTO_REPLY_RE = re.compile(
    r"\s*(?:automatic reply|auto(?:matic)?[ -]?response|out of office(?: reply)?"
    r"|automatische antwort|réponse automatique|respuesta automática"
    r"|risposta automatica|automatisch antwoord|autosvar|automatyczna odpowiedź"
    r"|автоматический ответ)\s*:",
    re.IGNORECASE,
)


def is_own_address(address: str, own_addresses: frozenset[str]) -> bool:
    """True when `address` is one of ours, ignoring case and `+tag` sub-addressing."""
    candidate = bare_address(address)
    if not candidate:
        return False
    own = _normalized(own_addresses)
    return candidate in own or _without_plus(candidate) in own


def classify(
    mail: ParsedMail,
    envelope_sender: str | None,
    own_addresses: frozenset[str],
    instance_id: str,
    own_list_ids: frozenset[str] = frozenset(),
) -> Classification:
    """Classify a parsed message; `envelope_sender` None means unknown, "" or "<>" null.

    The first matching rule wins; `reason` names the evidence.
    """
    if came_through_own_list(mail, own_list_ids):
        # Sender, Return-Path and envelope are the list's (our own address)
        rules = [_loop_of_author, _bounce, _auto_reply, _auto_generated]
    else:
        rules = [_loop, _bounce, _auto_reply, _auto_generated, _mailing_list, _bulk]
    for rule in rules:
        verdict = rule(mail, envelope_sender, own_addresses, instance_id)
        if verdict is not None:
            return verdict
    return Classification(MailKind.HUMAN)


def came_through_own_list(mail: ParsedMail, own_list_ids: frozenset[str]) -> bool:
    """True when the List-Id names one of our own lists (`support.example.com`)."""
    if not own_list_ids:
        return False
    value = mail.header("list-id")
    found = _LIST_ID_RE.search(value)
    list_id = (found.group(1) if found else value).strip().lower()
    return bool(list_id) and list_id in own_list_ids


def _loop(
    mail: ParsedMail, envelope: str | None, own: frozenset[str], instance_id: str
) -> Classification | None:
    carriers = [
        ("Sender", mail.header("sender")),
        ("Return-Path", mail.header("return-path")),
        ("envelope sender", envelope or ""),
    ]
    verdict = _looped(mail, carriers, own, instance_id)
    if verdict is not None and mail.header("list-id"):
        # our address as a list's sender: most likely a list of ours, not configured
        hint = f"; if {mail.header('list-id')!r} is our own list, name it in support.own_list_ids"
        return Classification(verdict.kind, verdict.reason + hint)
    return verdict


def _loop_of_author(
    mail: ParsedMail, envelope: str | None, own: frozenset[str], instance_id: str
) -> Classification | None:
    return _looped(mail, [], own, instance_id)


def _looped(
    mail: ParsedMail,
    carriers: list[tuple[str, str]],
    own: frozenset[str],
    instance_id: str,
) -> Classification | None:
    marker = mail.header("x-tierdesk-loop")
    if instance_id and marker and marker.strip().lower() == instance_id.strip().lower():
        return Classification(MailKind.LOOP, f"X-Tierdesk-Loop: {marker.strip()}")
    senders = [("From", mail.from_.email if mail.from_ else ""), *carriers]
    for name, value in senders:
        if value and is_own_address(value, own):
            return Classification(
                MailKind.LOOP, f"{name} is our own address {bare_address(value)}"
            )
    return None


def _bounce(
    mail: ParsedMail, envelope: str | None, own: frozenset[str], instance_id: str
) -> Classification | None:
    if envelope is not None and envelope.strip() in _NULL_SENDERS:
        return Classification(MailKind.BOUNCE, "null envelope sender")
    return_path = mail.header("return-path")
    if return_path and bare_address(return_path) == "" and "<" in return_path:
        return Classification(MailKind.BOUNCE, "Return-Path: <> (null sender)")
    for name, value in (
        ("From", mail.from_.email if mail.from_ else ""),
        ("Return-Path", return_path),
    ):
        address = bare_address(value)
        if address.partition("@")[0] in _DAEMON_LOCAL_PARTS:
            return Classification(MailKind.BOUNCE, f"{name} is {address}")
    if _report_type(mail) == "delivery-status":
        return Classification(
            MailKind.BOUNCE, "multipart/report; report-type=delivery-status"
        )
    return None


def _auto_reply(
    mail: ParsedMail, envelope: str | None, own: frozenset[str], instance_id: str
) -> Classification | None:
    submitted = _token(mail.header("auto-submitted"))
    if submitted and submitted not in ("no", "auto-generated"):
        return Classification(MailKind.AUTO_REPLY, f"Auto-Submitted: {submitted}")
    for name in ("x-autoreply", "x-autorespond"):
        if name in mail.headers:
            return Classification(MailKind.AUTO_REPLY, f"{_title(name)} present")
    if _token(mail.header("precedence")) == "auto_reply":
        return Classification(MailKind.AUTO_REPLY, "Precedence: auto_reply")
    if _report_type(mail) == "disposition-notification":
        return Classification(
            MailKind.AUTO_REPLY,
            "multipart/report; report-type=disposition-notification (read receipt)",
        )
    # X-Auto-Response-Suppress alone proves nothing (Outlook sets it on
    # ordinary mail); with an "Automatic reply:" subject it marks an
    # Exchange out-of-office message.
    if "x-auto-response-suppress" in mail.headers and _EXCHANGE_AUTO_REPLY_RE.match(
        mail.subject
    ):
        return Classification(
            MailKind.AUTO_REPLY,
            "Exchange automatic reply: X-Auto-Response-Suppress and subject "
            f"{mail.subject.split(':', 1)[0].strip()!r}",
        )
    return None


def _auto_generated(
    mail: ParsedMail, envelope: str | None, own: frozenset[str], instance_id: str
) -> Classification | None:
    if _token(mail.header("auto-submitted")) == "auto-generated":
        return Classification(MailKind.AUTO_GENERATED, "Auto-Submitted: auto-generated")
    return None


def _mailing_list(
    mail: ParsedMail, envelope: str | None, own: frozenset[str], instance_id: str
) -> Classification | None:
    for name in _LIST_HEADERS:
        if mail.header(name):
            return Classification(MailKind.LIST, f"{_title(name)} present")
    if _token(mail.header("precedence")) == "list":
        return Classification(MailKind.LIST, "Precedence: list")
    return None


def _bulk(
    mail: ParsedMail, envelope: str | None, own: frozenset[str], instance_id: str
) -> Classification | None:
    if mail.header("list-unsubscribe"):
        return Classification(MailKind.BULK, "List-Unsubscribe present")
    precedence = _token(mail.header("precedence"))
    if precedence in ("bulk", "junk"):
        return Classification(MailKind.BULK, f"Precedence: {precedence}")
    return None


def _token(value: str) -> str:
    """A header's main value: comments and `;` parameters removed, lower-cased."""
    return _COMMENT_RE.sub(" ", value).split(";", 1)[0].strip().lower()


def _report_type(mail: ParsedMail) -> str:
    if mail.content_type != "multipart/report":
        return ""
    for param in mail.header("content-type").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "report-type":
            return value.strip().strip('"').strip().lower()
    return ""


def bare_address(value: str) -> str:
    """`Name <a@b>`, `<a@b>` or `a@b` -> `a@b`, lower-cased; '' for `<>`."""
    address = parseaddr(value)[1] if ("<" in value or " " in value.strip()) else value
    return address.strip().strip("<>").strip().lower()


def _without_plus(address: str) -> str:
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local.split('+', 1)[0]}@{domain}"


@functools.lru_cache(maxsize=16)
def _normalized(own_addresses: frozenset[str]) -> frozenset[str]:
    return frozenset(bare_address(a) for a in own_addresses if a)


def _title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))
