"""JSON logs: one line per record, message ids from `extra` as fields."""

import json
import logging
import sys

from smsworks.logs import JsonFormatter
from tests.ops.conftest import run_probe


def _format(logger_name: str, message: str, *args, exc_info=None, **extra) -> dict:
    record = logging.getLogger(logger_name).makeRecord(
        logger_name, logging.WARNING, "f.py", 1, message, args, exc_info, extra=extra
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def test_a_record_is_one_json_line_with_its_extras():
    entry = _format(
        "messaging.dispatch",
        "sent %s\nsecond line",
        3,
        message_uuid="7d3c",
        message_uuids=("a", "b"),
        when=object,
    )
    assert entry["message"] == "sent 3\nsecond line"
    assert entry["level"] == "WARNING" and entry["logger"] == "messaging.dispatch"
    assert entry["message_uuid"] == "7d3c"
    assert entry["message_uuids"] == ["a", "b"]
    assert entry["when"] == str(object)
    assert entry["time"].endswith("+00:00")
    assert "args" not in entry and "msg" not in entry


def test_an_exception_stays_on_the_line():
    try:
        raise ValueError("bad")
    except ValueError:
        entry = _format("x", "failed", exc_info=sys.exc_info())
    assert "ValueError: bad" in entry["exception"]


def test_production_logs_are_json_and_development_logs_are_plain(production_run):
    entry = json.loads(production_run.last_log_line)
    assert entry["message"] == "crashed" and entry["message_uuid"] == "abc-123"
    assert entry["logger"] == "messaging.dispatch" and entry["level"] == "WARNING"

    development = run_probe(DEBUG="true")
    assert development.returncode == 0, development.stderr
    assert development.last_log_line.endswith("WARNING messaging.dispatch crashed")


def test_a_request_is_logged_without_its_query_string(rf):
    request = rf.post("/webhooks/abc/receipts/?token=hook-secret-1")
    entry = _format("django.request", "Bad Request: %s", request.path, request=request)
    assert entry["request"] == {"method": "POST", "path": "/webhooks/abc/receipts/"}
    assert "hook-secret-1" not in json.dumps(entry)
