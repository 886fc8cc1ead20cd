"""One log format for the gateway and the store server: the same record gives the same line
through both formatters, in logfmt and in JSON, and JSON lines carry the event's fields."""

from __future__ import annotations

import json
import logging

import pytest

from gateway import logs as gateway_logs
from store_server import logs as server_logs

MESSAGES = (
    gateway_logs.format_event("batch_sent", gateway="gw-door", observations=12, ok=True),
    gateway_logs.format_event("upload_failed", error='said "no" = bad\nreally', status=None),
    "event=batch_stored gateway=gw-1 observations=3 resolved=1",
    "Scheduler started",
    "event=",
)


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("some.logger", logging.WARNING, __file__, 1, message, None, None)


@pytest.mark.parametrize("log_format", ["logfmt", "json"])
@pytest.mark.parametrize("message", MESSAGES)
def test_gateway_and_server_render_the_same_line(log_format: str, message: str) -> None:
    line = record(message)
    assert server_logs.EventFormatter(log_format).format(line) == gateway_logs.EventFormatter(
        log_format
    ).format(line)


def test_json_lines_carry_the_events_fields() -> None:
    line = gateway_logs.EventFormatter("json").format(record(MESSAGES[1]))
    fields = json.loads(line)
    assert fields["level"] == "WARNING"
    assert fields["logger"] == "some.logger"
    assert fields["event"] == "upload_failed"
    assert fields["error"] == 'said "no" = bad\nreally'
    assert fields["status"] == "null"


def test_logfmt_lines_round_trip_and_plain_messages_become_msg() -> None:
    formatter = server_logs.EventFormatter("logfmt")
    line = formatter.format(record(MESSAGES[1]))
    pairs = dict(server_logs.parse_logfmt(line) or [])
    assert pairs["error"] == 'said "no" = bad\nreally'
    plain = dict(server_logs.parse_logfmt(formatter.format(record("Scheduler started"))) or [])
    assert pairs["level"] == plain["level"] == "WARNING"
    assert plain["msg"] == "Scheduler started"


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="logfmt, json"):
        server_logs.EventFormatter("xml")
