"""JSON log lines: one object per record, for journald, Loki, ELK and friends.

Pass identifiers with ``extra``::

    log.info("sent", extra={"message_uuid": str(message.uuid)})
    log.info("batch claimed", extra={"message_uuids": [str(u) for u in uuids]})

Every ``extra`` key becomes a field; values JSON cannot hold are written as text.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

# Attributes every LogRecord has: anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", (), None)).keys()) | {
    "message",
    "asctime",
    "taskName",
}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, HttpRequest):
        # django.request passes the request: its repr holds the query string, where
        # webhook tokens live. The path alone says which URL without the secret.
        return {"method": value.method, "path": value.path}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = _plain(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # One line per record, always: newlines inside values are escaped by json.
        return json.dumps(entry, ensure_ascii=False, default=str)
