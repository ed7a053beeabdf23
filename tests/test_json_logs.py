"""`log_format: json`: each log line one JSON object; lines about a message name it."""

from __future__ import annotations

import io
import json
import logging
import re
import sys

from tierdesk.daemon.logging_setup import (
    JsonFormatter,
    MessageFields,
    about_message,
    make_handler,
)

from tests.conftest import fixture_bytes
from tests.support.daemon_process import DaemonProcess, wait_until

REQUEST = fixture_bytes("flow/new_request.eml")
REPLY = fixture_bytes("flow/reply_with_token.eml")


def test_a_json_daemon_writes_only_json_lines_and_names_each_message(
    tmp_path, sqlite_url
):
    d = DaemonProcess(tmp_path, sqlite_url, extra_yaml="log_format: json\n").start()
    try:
        d.send(REQUEST)
        d.send(REPLY)
        wait_until(
            lambda: d.log().count('"logger": "tierdesk.pipeline"') >= 2,
            message="both mails processed",
        )
    finally:
        assert d.stop() == 0

    lines = [json.loads(line) for line in d.log().splitlines()]

    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert lines[-1]["message"] == "stopped"
    about = [line for line in lines if "spool_id" in line]
    assert [(a["spool_id"], a["ticket"], a["message_id"]) for a in about] == [
        (1, 1, "request-1@customer.example"),
        (2, 1, "request-1-followup@customer.example"),
    ]
    assert about[0]["message"].startswith("spool 1 new_ticket ticket=1")
    assert about[0]["level"] == "INFO"


def record_line(logger: str, message: str, exc_info: object = None) -> dict:
    """What a line logged now would look like in JSON."""
    record = logging.LogRecord(
        logger, logging.ERROR, __file__, 1, message, (), exc_info
    )
    MessageFields().filter(record)
    text = JsonFormatter().format(record)
    assert "\n" not in text  # one line, even with a traceback
    return json.loads(text)


def test_a_line_logged_anywhere_while_a_message_is_handled_names_it():
    with about_message(7, "abc@customer.example"):
        inside = record_line("tierdesk.outgoing", "template missing")
    outside = record_line("tierdesk.outgoing", "template missing")

    assert (inside["spool_id"], inside["message_id"]) == (7, "abc@customer.example")
    assert "ticket" not in inside  # not known yet
    assert "spool_id" not in outside and "message_id" not in outside


def test_a_traceback_stays_inside_its_json_line():
    try:
        raise ValueError("bad header")
    except ValueError:
        line = record_line(
            "tierdesk.pipeline", "spool item 3 quarantined", sys.exc_info()
        )

    assert line["level"] == "ERROR"
    assert line["exception"].startswith("Traceback")
    assert "ValueError: bad header" in line["exception"]


def test_text_lines_stay_as_they_were_even_about_a_message():
    out = io.StringIO()
    log = logging.getLogger("tierdesk.test_text_lines")
    log.propagate = False
    log.addHandler(make_handler("text", out))
    try:
        with about_message(5, "abc@customer.example"):
            log.warning(
                "spool %s new_ticket ticket=%s <%s>", 5, 9, "abc@customer.example"
            )
    finally:
        log.handlers.clear()

    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING tierdesk.test_text_lines: "
        r"spool 5 new_ticket ticket=9 <abc@customer.example>\n",
        out.getvalue(),
    ), out.getvalue()
