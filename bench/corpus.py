"""A deterministic corpus of realistic support mail for the benchmarks.

About 40 % new requests and 60 % replies (half of them threaded by our
subject token, half only by In-Reply-To/References), plain and
multipart/alternative, UTF-8, ISO-8859-1, KOI8-R and windows-1251 bodies,
quoted-printable and base64, and about 9 % with an attachment.
"""

from __future__ import annotations

import base64
import quopri
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime

TOPICS_EN = [
    "Cannot log in to the portal",
    "Invoice for October is wrong",
    "VPN drops every ten minutes",
    "Printer on floor 3 is offline",
    "Password reset link expired",
    "Question about our contract",
    "Backup job failed last night",
    "Mailbox is full",
]
TOPICS_RU = [
    "Не работает вход в личный кабинет",
    "Ошибка в счёте за октябрь",
    "VPN отключается каждые десять минут",
    "Принтер на третьем этаже недоступен",
    "Вопрос по договору",
]
BODY_EN = (
    "Hello,\n\nsince this morning {topic_lc}. We tried restarting everything twice.\n"
    "Could you please have a look? It blocks {n} people in our team.{details}\n\n"
    "Best regards,\n{name}\n"
)
BODY_RU = (
    "Здравствуйте!\n\nС утра {topic_lc}. Мы дважды всё перезапускали.\n"
    "Посмотрите, пожалуйста: из-за этого не могут работать {n} человек.{details}\n\n"
    "С уважением,\n{name}\n"
)
NAMES_EN = [
    "Alice Smith",
    "Bob Jones",
    "Carol White",
    "Dan Brown",
    "Eve Black",
    "Frank Green",
]
NAMES_RU = ["Иван Петров", "Мария Иванова", "Ольга Смирнова", "Пётр Сидоров"]


@dataclass
class Thread:
    """One conversation: its ticket order, subject and Message-IDs so far."""

    index: int
    subject: str
    sender: str
    name: str
    charset: str
    russian: bool
    message_ids: list[str] = field(default_factory=list)


def generate(n: int, seed: int = 1, tag: str = "ACME") -> list[bytes]:
    """N raw messages; replies name ticket numbers as a fresh tierdesk would assign them."""
    rng = random.Random(seed)
    threads: list[Thread] = []
    out = []
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    for i in range(n):
        when = start + timedelta(seconds=37 * i)
        if not threads or rng.random() < 0.4:
            threads.append(new_thread(rng, len(threads)))
            thread = threads[-1]
            subject = thread.subject
            reply = False
        else:
            thread = threads[max(0, len(threads) - 1 - int(rng.expovariate(0.15)))]
            reply = True
            subject = f"Re: {thread.subject}"
            if rng.random() < 0.5:
                subject = f"Re: [{tag} #{thread.index + 1}] {thread.subject}"
        message_id = f"{seed}.{i}.{rng.getrandbits(40):x}@{thread.sender.split('@')[1]}"
        out.append(message(rng, thread, subject, message_id, reply, when))
        thread.message_ids.append(message_id)
    return out


def new_thread(rng: random.Random, index: int) -> Thread:
    """A new conversation from a new customer (user<index>@customer<index % 300>.example)."""
    russian = rng.random() < 0.15
    topic = rng.choice(TOPICS_RU if russian else TOPICS_EN)
    name = rng.choice(NAMES_RU if russian else NAMES_EN)
    charset = (
        rng.choice(["koi8-r", "windows-1251", "utf-8"])
        if russian
        else rng.choice(["utf-8"] * 6 + ["iso-8859-1"] * 2)
    )
    domain = f"customer{index % 300}.example"
    return Thread(
        index, f"{topic} ({index})", f"user{index}@{domain}", name, charset, russian
    )


SUPPORT_TO = "ACME Support <support@example.com>"


def message(
    rng: random.Random,
    thread: Thread,
    subject: str,
    message_id: str,
    reply: bool,
    when: datetime,
    to: str = SUPPORT_TO,
    opening: str = "Any news on this?",
    details: str = "",
) -> bytes:
    """One raw mail of `thread` (a reply opens with `opening`, quotes, and names the
    thread's latest Message-IDs; `details`, if any, end the request's first paragraph)."""
    template = BODY_RU if thread.russian else BODY_EN
    body = template.format(
        topic_lc=thread.subject.lower(),
        n=rng.randint(2, 40),
        name=thread.name,
        details=f" Error details: {details}." if details else "",
    )
    if reply:
        quoted = "\n".join("> " + line for line in body.splitlines())
        body = f"{opening}\n\nOn {when:%a, %d %b %Y} support wrote:\n{quoted}\n"
    headers = [
        f"From: {Header(thread.name, 'utf-8').encode()} <{thread.sender}>",
        f"To: {to}",
        f"Subject: {Header(subject, 'utf-8').encode()}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: <{message_id}>",
        "MIME-Version: 1.0",
    ]
    if reply and thread.message_ids:
        headers.append(f"In-Reply-To: <{thread.message_ids[-1]}>")
        headers.append(
            "References: " + " ".join(f"<{m}>" for m in thread.message_ids[-10:])
        )
    text_part = _text_part(rng, body, thread.charset)
    if rng.random() < 0.35:
        html = (
            "<html><body>"
            + "".join(f"<p>{line}</p>" for line in body.splitlines() if line)
            + "</body></html>"
        )
        alt = _multipart(
            "alternative",
            [text_part, _text_part(rng, html, thread.charset, "html")],
            rng,
        )
    else:
        alt = text_part
    if rng.random() < 0.09:
        size = int(2000 * (98 ** rng.random()))
        payload = base64.encodebytes(rng.randbytes(size)).decode()
        name = rng.choice(["screenshot.png", "invoice.pdf", "log.txt", "report.docx"])
        attachment = (
            f'Content-Type: application/octet-stream; name="{name}"\n'
            f'Content-Disposition: attachment; filename="{name}"\n'
            f"Content-Transfer-Encoding: base64\n\n{payload}"
        )
        body_block = _multipart("mixed", [alt, attachment], rng)
    else:
        body_block = alt
    return ("\n".join(headers) + "\n" + body_block).encode("ascii")


def _text_part(
    rng: random.Random, text: str, charset: str, subtype: str = "plain"
) -> str:
    data = text.encode(charset, "replace")
    if rng.random() < 0.5:
        encoded, cte = quopri.encodestring(data).decode("ascii"), "quoted-printable"
    else:
        encoded, cte = base64.encodebytes(data).decode("ascii"), "base64"
    return f'Content-Type: text/{subtype}; charset="{charset}"\nContent-Transfer-Encoding: {cte}\n\n{encoded}'


def _multipart(subtype: str, parts: list[str], rng: random.Random) -> str:
    boundary = f"=_b{rng.getrandbits(48):x}"
    inner = "".join(f"--{boundary}\n{part}\n" for part in parts)
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"\n\n{inner}--{boundary}--\n'
