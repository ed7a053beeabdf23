"""The shape of the history bench/history.py stores: what every row of it holds.

Every value follows from a ticket's number i (1..tickets), so the SQL that
writes the rows (bench/history_sql.py) and the corpus that refers to them
(bench/history_corpus.py) agree without reading the database.

- Times: the newest RECENT tickets are spread over the last week (new, open,
  pending), the RECENT before them over the three weeks before (resolved
  lately), and all the others over the three years before that (closed or
  resolved long ago). The last month is the same at every size; only the
  old history grows.
- Contacts: one per two tickets, spread by a stride; every HEAVY_EVERY-th
  ticket belongs to one of HEAVY contacts who write every day (at 1M
  tickets each has 1,000).
- Messages: the customer's request and our acknowledgement; on two tickets
  in three also an agent's answer (i % 3 == 1) or the customer's reply
  (i % 3 == 2).
- Words: besides the common words of a few topics, each request names
  DETAILS made-up words of a vocabulary of DETAIL_WORDS (an error code, a
  host): rare words, as a real desk's history holds, that the similar-ticket
  look-up ranks by. The corpus's new requests name them too.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bench.corpus import NAMES_EN, TOPICS_EN

HOUR = 3600
DAY = 86400
SPAN = 3 * 365 * DAY  # how far back the history goes
RECENT = 300  # tickets in each of the two recent windows, at every size
HEAVY = 20  # contacts who open a ticket every day (one ticket in HEAVY_EVERY is theirs)
HEAVY_EVERY = 50
# Knuth's multiplicative hash: Message-IDs that look random, computed alike in SQL
MIX = 2654435761
SUPPORT = "support@example.com"
TAG = "ACME"
SIGNING_SECRET = hashlib.sha256(b"tierdesk history bench").hexdigest()
MIN_TICKETS = 2 * RECENT + 100
SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi")
SYLLABLES += ("ze", "bo", "du", "fe", "gi", "ha", "ju", "pe")
DETAIL_WORDS = len(SYLLABLES) ** 3  # 4,096 made-up words, three syllables each
DETAILS = 3  # of them in each request


def detail_word(w: int) -> str:
    """Made-up word `w` (0 .. DETAIL_WORDS - 1), as the SQL's detail_word makes it."""
    n = len(SYLLABLES)
    return SYLLABLES[w % n] + SYLLABLES[w // n % n] + SYLLABLES[w // n // n % n]


def detail_index(i: int, k: int) -> int:
    """Which made-up word is ticket `i`'s `k`-th (0 .. DETAILS - 1): random-looking."""
    return (DETAILS * i + k) * MIX % 2**32 // DETAIL_WORDS % DETAIL_WORDS


def hex8(value: int) -> str:
    """Eight hex digits that look random, from `value` (as the SQL's hex8 makes them)."""
    return f"{value * MIX % 2**32:08x}"


@dataclass(frozen=True)
class Shape:
    """What a generated history holds; every value computed from a ticket's number."""

    tickets: int
    now: int  # epoch seconds at generation: the recent windows end here
    stride: int  # spreads tickets over contacts (coprime with the contacts that are not HEAVY)

    @staticmethod
    def make(tickets: int, now: int) -> Shape:
        """The shape of a history of `tickets` tickets ending at `now`."""
        if tickets < MIN_TICKETS:
            raise ValueError(f"a history needs at least {MIN_TICKETS} tickets")
        stride = 48271
        while math.gcd(stride, contacts_for(tickets) - HEAVY) != 1:
            stride += 2
        return Shape(tickets, now, stride)

    @property
    def contacts(self) -> int:
        """How many contacts there are."""
        return contacts_for(self.tickets)

    @property
    def old(self) -> int:
        """Tickets 1..old were resolved or closed more than a month ago."""
        return self.tickets - 2 * RECENT

    def created(self, i: int) -> int:
        """When ticket `i` was opened (epoch seconds)."""
        if i <= self.old:
            return self.now - SPAN + (i - 1) * (SPAN - 30 * DAY) // self.old
        if i <= self.old + RECENT:
            return self.now - 30 * DAY + (i - self.old - 1) * (23 * DAY) // RECENT
        return (
            self.now
            - 7 * DAY
            + (i - self.old - RECENT - 1) * (7 * DAY - HOUR) // RECENT
        )

    def requester(self, i: int) -> int:
        """The contact (id) who opened ticket `i`."""
        if i % HEAVY_EVERY == 0:
            return 1 + (i // HEAVY_EVERY) % HEAVY
        return HEAVY + 1 + i * self.stride % (self.contacts - HEAVY)

    def subject(self, i: int) -> str:
        """Ticket `i`'s subject."""
        return f"{TOPICS_EN[i % len(TOPICS_EN)]} ({i})"

    def status(self, i: int) -> str:
        """Ticket `i`'s status."""
        if i > self.old + RECENT:
            return ("new", "open", "pending")[(self.tickets - i) % 3]
        return "resolved" if i > self.old or i % 5 == 0 else "closed"

    def message_ids(self, i: int) -> list[str]:
        """Ticket `i`'s stored Message-IDs, oldest first."""
        ids = [
            f"{hex8(4 * i + 1)}.{i}@mx{i % 97}.example.net",
            f"ack.{i}.{hex8(4 * i + 2)}{hex8(4 * i + 3)}@example.com",
        ]
        if i % 3 == 1:  # an agent answered
            ids.append(f"reply.{i}.{hex8(4 * i + 4)}@example.com")
        elif i % 3 == 2:  # the customer wrote again
            ids.append(f"{hex8(4 * i + 4)}.{i}.re@mx{i % 97}.example.net")
        return ids


def contacts_for(tickets: int) -> int:
    """One contact per two tickets."""
    return max(HEAVY + 1, (tickets + 1) // 2)


def email(j: int) -> str:
    """Contact `j`'s address (also its key: lower case, no +tag)."""
    return f"customer{j}@org{j % 4999}.example"


def name(j: int) -> str:
    """Contact `j`'s display name."""
    return NAMES_EN[j % len(NAMES_EN)]


def ticket_day(shape: Shape, i: int) -> date:
    """The day ticket `i` was opened (its acknowledgement's reply address is of that day)."""
    return datetime.fromtimestamp(shape.created(i), UTC).date()
