"""PostgreSQL restarting in the middle of a burst: `451` meanwhile, nothing lost, nothing twice.

Runs on a private PostgreSQL server (the shared one serves other tests), so
it needs TIERDESK_TEST_PG set and the server binaries installed.
"""

from __future__ import annotations

import collections
import threading
import time

import pytest
from tierdesk.storage.db import open_database
from tierdesk.storage.sql import Sql

from tests.conftest import PG_URL
from tests.support.cluster import Burst, cluster_yaml, settled, start_daemons
from tests.support.daemon_process import wait_until
from tests.support.dovecot import make_dovecot  # noqa: F401 - fixture
from tests.support.private_postgres import PrivatePostgres, postgres_bin
from tests.test_several_daemons import IMAP_ENV, imap_yaml, request

pytestmark = pytest.mark.skipif(
    not PG_URL or postgres_bin() is None,
    reason="needs TIERDESK_TEST_PG and the PostgreSQL server binaries",
)

BY_SMTP = 300
BY_IMAP = 20
DOWN_SECONDS = 3.0


@pytest.fixture
def dovecot(make_dovecot):  # noqa: F811 - the fixture imported above
    server = make_dovecot()
    server.add_user("support", "imap-pw")
    return server


@pytest.fixture
def postgres():
    server = PrivatePostgres()
    server.start()
    yield server
    server.remove()


def test_postgresql_restarting_mid_burst_costs_451s_and_loses_nothing(
    tmp_path, postgres, dovecot, relay_sink
):
    daemons = start_daemons(
        tmp_path,
        postgres.url,
        2,
        cluster_yaml(imap_yaml(dovecot)),
        relay_sink.port,
        IMAP_ENV,
    )
    lists = [[request(i) for i in range(n, BY_SMTP, 2)] for n in range(2)]
    restarted = threading.Event()

    def restart_postgres_midway(sent: int) -> None:
        if sent >= BY_SMTP // 3 and not restarted.is_set():
            restarted.set()
            threading.Thread(target=outage).start()

    def outage() -> None:
        postgres.stop()
        for i in range(BY_IMAP):  # mail keeps arriving in the mailbox meanwhile
            dovecot.append("support", request(BY_SMTP + i, "imap")[2])
        time.sleep(DOWN_SECONDS)
        postgres.start()

    try:
        burst = Burst(daemons, lists)
        burst.run(restart_postgres_midway)
        assert not burst.errors
        assert restarted.is_set()
        assert burst.deferred > 0  # the listeners said 451 while it was down

        db = open_database(postgres.url)
        sql = Sql(db)
        try:
            wait_until(
                lambda: dovecot.list_uids("support") == [],
                timeout=90,
                message="the mailbox emptied after the outage",
            )
            wait_until(
                lambda: settled(sql), timeout=120, interval=0.5, message="all done"
            )
            stored = dict(
                sql.all(
                    "SELECT message_id, ticket_id FROM message WHERE direction = 'in'"
                )
            )
            assert len(burst.accepted) == BY_SMTP
            assert burst.accepted <= set(stored)
            assert sql.scalar("SELECT COUNT(*) FROM ticket") == BY_SMTP + BY_IMAP
            assert (
                sql.scalar("SELECT COUNT(*) FROM spool WHERE state <> 'done'") == 0
            )  # nothing quarantined by the outage
            acks = collections.Counter(
                row[0]
                for row in sql.all("SELECT ticket_id FROM outbox WHERE kind = 'ack'")
            )
            assert len(acks) == BY_SMTP + BY_IMAP and set(acks.values()) == {1}
        finally:
            db.close()
        for d in daemons:
            assert d.proc.poll() is None, d.log()  # both survived it
    finally:
        for d in daemons:
            d.stop()
