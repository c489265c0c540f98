"""Calls smsworks.wsgi.application as a WSGI server calls it: the path production
takes (gunicorn), which Django's test client does not (it builds its own handler)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from django.core import signals
from django.db import close_old_connections

from smsworks import wsgi


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    content: bytes = b""


class WSGIClient:
    """Like Django's test client, the request signals leave the test's database
    connection (and its transaction) alone. `app`: smsworks.wsgi.application, or
    one of the handlers it hands paths to."""

    def __init__(self, app=None) -> None:
        self.app = app or wsgi.application

    def request(self, method: str, path: str, body: bytes = b"", **environ_extra) -> Answer:
        path, _, query = path.partition("?")
        answer = Answer(0)

        def start_response(status, headers, exc_info=None):
            answer.status_code = int(status.split()[0])
            answer.headers = {name.lower(): value for name, value in headers}

        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "HTTP_HOST": "testserver",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.url_scheme": "http",
            **environ_extra,
        }
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            response = self.app(environ, start_response)
            answer.content = b"".join(response)
            if hasattr(response, "close"):  # as a WSGI server does
                response.close()
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        return answer

    def post(self, path: str, data: bytes | str = b"", content_type: str = "", **extra) -> Answer:
        body = data.encode() if isinstance(data, str) else data
        return self.request("POST", path, body, CONTENT_TYPE=content_type, **extra)
