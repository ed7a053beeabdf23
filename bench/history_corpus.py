"""The corpus bench/history.py ingests: support mail that refers to the stored history.

Like bench/corpus.py (whose message builder it uses), with what only a desk
with history gets: new requests from stored contacts, and replies to stored
tickets by subject token, by In-Reply-To/References only, and by the
ticket's signed reply address.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from tierdesk.parsers.reply_address import SigningKey, sign

from bench.corpus import TOPICS_EN, Thread, message, new_thread
from bench.history_shape import (
    DETAIL_WORDS,
    DETAILS,
    HEAVY,
    HEAVY_EVERY,
    RECENT,
    SIGNING_SECRET,
    SUPPORT,
    TAG,
    Shape,
    detail_word,
    email,
    name,
    ticket_day,
)

# what a round's messages are, in parts per hundred
KINDS = {
    "new": 30,  # a new request from a new customer
    "fresh_reply": 25,  # a reply in a conversation this corpus started (In-Reply-To)
    "known_new": 10,  # a new request from a stored contact (one in ten: a daily writer)
    "token": 12,  # a reply to a stored ticket with [ACME #n] in the subject
    "headers": 12,  # a reply to a stored message, found by In-Reply-To/References only
    "signed": 11,  # a reply to a stored ticket's signed reply address
}


# what a stored customer's reply says besides "Any news on this?": at a small size
# the same customers write again and again, and the same text three times a day
# would make them robots (parsers/quotes.py text_fingerprint) where at a large
# size they are not
WORDS = sorted({word.lower() for topic in TOPICS_EN for word in topic.split()})


def history_corpus(shape: Shape, count: int, seed: int) -> tuple[list[bytes], Counter]:
    """`count` messages that refer to the history of `shape`, and how many of each kind.

    Every random draw is the same at every size (stored tickets are picked by
    position: one of the newest RECENT, one of the RECENT resolved lately, or
    any old one), so the corpus differs between sizes only in the numbers,
    addresses and Message-IDs it names.
    """
    rng = random.Random(seed)
    key = SigningKey("00", bytes.fromhex(SIGNING_SECRET))
    kinds, weights = list(KINDS), list(KINDS.values())
    fresh: list[Thread] = []
    out: list[bytes] = []
    counts: Counter = Counter()
    start = datetime.fromtimestamp(shape.now, UTC)
    for n in range(count):
        kind = rng.choices(kinds, weights)[0]
        if kind == "fresh_reply" and not fresh:
            kind = "new"
        to = f"ACME Support <{SUPPORT}>"
        if kind == "new":
            thread = new_thread(rng, seed * 1_000_000 + len(fresh))
            fresh.append(thread)
            subject, reply = thread.subject, False
        elif kind == "fresh_reply":
            thread = fresh[max(0, len(fresh) - 1 - int(rng.expovariate(0.15)))]
            subject, reply = f"Re: {thread.subject}", True
        elif kind == "known_new":
            j = _known_contact(rng, shape)
            topic = rng.choice(TOPICS_EN)
            thread = Thread(
                n, f"{topic} (again, {seed}.{n})", email(j), name(j), "utf-8", False
            )
            subject, reply = thread.subject, False
        else:
            i = _stored_ticket(rng, shape, signed=kind == "signed")
            j = shape.requester(i)
            charset = rng.choice(["utf-8", "utf-8", "iso-8859-1"])
            ids = shape.message_ids(i)
            thread = Thread(i, shape.subject(i), email(j), name(j), charset, False, ids)
            subject, reply = f"Re: {shape.subject(i)}", True
            if kind == "token":
                subject = f"Re: [{TAG} #{i}] {shape.subject(i)}"
            elif kind == "signed":
                to = sign(SUPPORT, key, i, "customer", issued=ticket_day(shape, i))
        opening = "Any news on this?"
        if kind in ("token", "headers", "signed"):  # never the same words twice
            opening += " " + " ".join(rng.choice(WORDS) for _ in range(4))
        details = ""
        if kind in ("new", "known_new"):  # a request's own rare words, as the history's
            picked = (rng.randrange(DETAIL_WORDS) for _ in range(DETAILS))
            details = " ".join(detail_word(w) for w in picked)
        domain = thread.sender.split("@")[1]
        message_id = f"h{seed}.{n}.{rng.getrandbits(40):x}@{domain}"
        when = start + timedelta(seconds=n)
        out.append(
            message(rng, thread, subject, message_id, reply, when, to, opening, details)
        )
        thread.message_ids.append(message_id)
        counts[kind] += 1
    return out, counts


def _stored_ticket(rng: random.Random, shape: Shape, signed: bool) -> int:
    """A stored ticket to reply to: open lately, resolved lately, or (not signed) long closed.

    A signed address is valid for 90 days, so signed replies go to recent tickets only.
    """
    draw, position = rng.random(), rng.random()
    if draw < (0.6 if signed else 0.4):
        return shape.tickets - RECENT + 1 + int(position * RECENT)
    if signed or draw < 0.6:
        return shape.old + 1 + int(position * RECENT)
    return 1 + int(position * shape.old)


def _known_contact(rng: random.Random, shape: Shape) -> int:
    """A stored contact: one in ten writes daily, the others opened a ticket long ago."""
    daily, position = rng.random(), rng.random()
    if daily < 0.1:
        return 1 + int(position * HEAVY)
    i = 1 + int(position * shape.old)
    if i % HEAVY_EVERY == 0:  # that one is a daily writer's: take its neighbour
        i += 1
    return shape.requester(i)
