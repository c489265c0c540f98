"""Django's PostgreSQL backend with a cheaper per-request connection health check.

CONN_HEALTH_CHECKS makes Django send SELECT 1 before the first query of every
request: a round trip that cost an API send a tenth of the web process's CPU. A
connection that served a request without a connection error moments ago is checked
without one: psycopg must see it open, idle and not broken, and nothing may be
waiting on its socket (a server that ends a session, restarting, terminating it or
timing it out, says so first and closes the socket, which makes it readable). One
that has been idle longer than RECENT_SECONDS, or is in any doubt, gets Django's
own SELECT 1."""

from __future__ import annotations

import select
import time

from django.db.backends.postgresql import base
from psycopg import pq

RECENT_SECONDS = 5.0


class DatabaseWrapper(base.DatabaseWrapper):
    # When a request last finished with this connection used and no connection
    # error, or a SELECT 1 last answered (time.monotonic()).
    _alive_at = float("-inf")

    def is_usable(self) -> bool:
        usable = super().is_usable()
        if usable:
            self._alive_at = time.monotonic()
        return usable

    def close_if_unusable_or_obsolete(self) -> None:
        # health_check_done: a cursor was taken since the last request boundary.
        if self.connection is not None and self.health_check_done and not self.errors_occurred:
            self._alive_at = time.monotonic()
        super().close_if_unusable_or_obsolete()

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and time.monotonic() - self._alive_at < RECENT_SECONDS
            and self._quietly_open()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _quietly_open(self) -> bool:
        """Open, idle, and nothing from the server waiting to be read."""
        conn = self.connection
        if conn.closed or conn.broken or conn.info.transaction_status != pq.TransactionStatus.IDLE:
            return False
        try:
            poller = select.poll()
            poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False
