"""Several senders on one outbox hand each mail to the relay once.

Every daemon runs a sender; on one database they would all see the same due
mail. Each takes what it sends by claiming it first.
"""

from __future__ import annotations

import collections
import email

from tierdesk.storage import spool
from tierdesk.storage.models import OutboxItem

from tests.conftest import fixture_bytes
from tests.support.at_once import at_once
from tests.support.envelope import plain_envelope
from tests.support.sender_process import deliver_everything_due

SENDERS = 3
MAILS = 120
REQUEST = fixture_bytes("flow/new_request.eml")


def test_three_senders_at_once_hand_each_acknowledgement_over_once(
    tmp_path, db_url, runtime, relay_sink
):
    for i in range(MAILS):
        raw = REQUEST.replace(b"request-1@", f"req-{i}@".encode()).replace(
            b"alice@customer.example", f"customer{i}@customer.example".encode()
        )
        runtime.pipeline.process(_spool(runtime, raw))
    assert OutboxItem.select().where(OutboxItem.state == "pending").count() == MAILS

    handed = at_once(
        SENDERS, deliver_everything_due, str(tmp_path), db_url, relay_sink.port
    )

    assert sum(handed) == MAILS
    relayed = collections.Counter(
        email.message_from_bytes(r.raw)["Message-ID"]
        for r in relay_sink.wait_for(MAILS)
    )
    assert len(relayed) == MAILS and set(relayed.values()) == {1}
    assert OutboxItem.select().where(OutboxItem.state == "sent").count() == MAILS


def _spool(runtime, raw: bytes) -> int:
    (spool_id,) = spool.spool(
        runtime.sql, [spool.Arrival(raw, "test", *plain_envelope(raw))], runtime.clock()
    )
    return spool_id
