"""A webhook receiver run as its own process by the tests.

    python -m tests.integrations.receiver <record file> <port file>

It binds a free port (written to <port file>), checks each request's
Smsworks-Signature against $RECEIVER_SECRET with the scheme in docs/webhooks.md,
and appends one JSON line per request to <record file>. The path sets the answer:
/ok -> 200, /fail -> 500, /flaky/<n> -> 500 for the first n requests, then 200.
Standard library only, like a customer's receiver would be.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SECRET = os.environ.get("RECEIVER_SECRET", "")
TOLERANCE_SECONDS = 300
_lock = threading.Lock()
_seen: dict[str, int] = {}


def verified(header: str, body: bytes) -> bool:
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts.get("v1", ""))


class Handler(BaseHTTPRequestHandler):
    record: Path

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ok = verified(self.headers.get("Smsworks-Signature", ""), body)
        with _lock:
            count = _seen[self.path] = _seen.get(self.path, 0) + 1
            status = self._status(count) if ok else 401
            line = {
                "path": self.path,
                "verified": ok,
                "status": status,
                "event": self.headers.get("Smsworks-Event", ""),
                "delivery": self.headers.get("Smsworks-Delivery-Id", ""),
                "body": body.decode("utf-8", "replace"),
            }
            with open(self.record, "a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")
        answer = b'{"received": true}' if status == 200 else b'{"error": "try again"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _status(self, count: int) -> int:
        if self.path == "/ok":
            return 200
        if self.path.startswith("/flaky/"):
            return 500 if count <= int(self.path.rsplit("/", 1)[1]) else 200
        return 500

    def log_message(self, format: str, *args) -> None:  # quiet
        pass


def main() -> None:
    record, port_file = Path(sys.argv[1]), Path(sys.argv[2])
    Handler.record = record
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.rename(port_file)  # appears whole: the test never reads half a number
    server.serve_forever()


if __name__ == "__main__":
    main()
