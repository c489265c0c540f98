"""Rows that a process's threads INSERT at the same moment, written by one statement.

A provider's receipt webhook is called once per message, thousands of times a
second, and each call must store its receipt before it answers. Stored alone, every
receipt is a statement and a commit of its own: a round trip, a transaction and a
WAL flush, which cost PostgreSQL more CPU than the row. Here, while one thread's
INSERT is in flight, the threads that arrive meanwhile queue their rows; when it
commits, one of them writes all the queued rows in one INSERT (on its own
connection) and every caller returns once the statement holding its rows has
committed. A caller alone (the usual case in a quiet process, and in tests) writes
its own rows at once: no waiting, no timer.

Only in autocommit: a caller inside a transaction writes on its own connection, or
its rows would commit with someone else's statement whatever its transaction does.
If a statement holding several callers' rows fails, each of them writes its own rows
again alone, on its own connection, so each call's outcome (and its error) is its
own: one bad row fails its own call, not its neighbours'. The statement is
all-or-nothing, so nothing is written twice by that fallback unless the failure came
after the commit (a connection lost before the answer): the tables written here
must accept that (receipts are applied idempotently)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from django.db import connection

# The most rows one statement carries (a caller's own rows always go in whole):
# SQLite allows 32,766 bound values in a statement, PostgreSQL 65,535.
MAX_ROWS = 1000


class _Call:
    __slots__ = ("done", "failed", "lead", "rows")

    def __init__(self, rows: list[Sequence[object]]) -> None:
        self.rows = rows
        self.done = threading.Event()
        self.lead = False  # woken to write the queue, not because its rows are written
        self.failed = False


class GroupInsert:
    """INSERTs of rows into one table's columns, grouped across the threads of a process."""

    def __init__(self, table: str, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = list(columns)
        self._placeholders = "(" + ", ".join(["%s"] * len(self.columns)) + ")"
        self._lock = threading.Lock()
        self._queue: list[_Call] = []
        self._writing = False  # a thread is writing, or has been woken to write

    def insert(self, rows: list[Sequence[object]]) -> None:
        """Write `rows` (each a value per column); committed when this returns, unless
        the caller is inside a transaction (then they commit with it)."""
        if not rows:
            return
        if connection.in_atomic_block or not connection.get_autocommit():
            self._execute(rows)
            return
        call = _Call(rows)
        with self._lock:
            self._queue.append(call)
            call.lead = not self._writing
            self._writing = True
        if not call.lead:
            call.done.wait()
            if not call.lead:  # written by another thread's statement, or it failed
                if call.failed:
                    self._execute(rows)
                return
        self._write_queue(call)

    def _write_queue(self, me: _Call) -> None:
        with self._lock:  # the writer is first in the queue: it came when none wrote, or was woken
            group, size = [], 0
            while self._queue and (not group or size + len(self._queue[0].rows) <= MAX_ROWS):
                call = self._queue.pop(0)
                group.append(call)
                size += len(call.rows)
        written = False
        try:
            self._execute([row for call in group for row in call.rows])
            written = True
        except Exception:
            if len(group) == 1:
                raise
        finally:
            self._hand_on(group, me, written)
        if not written:  # the shared statement failed: my rows alone, my own outcome
            self._execute(me.rows)

    def _hand_on(self, group: list[_Call], me: _Call, written: bool) -> None:
        """Wake the callers whose rows the statement held, and the next writer."""
        for call in group:
            if call is not me:
                call.lead, call.failed = False, not written
                call.done.set()
        with self._lock:
            if self._queue:  # arrived while the statement ran: the first writes them
                following = self._queue[0]
                following.lead = True
                following.done.set()
            else:
                self._writing = False

    def _execute(self, rows: list[Sequence[object]]) -> None:
        sql = (
            f"INSERT INTO {self.table} ({', '.join(self.columns)})"  # noqa: S608 - names from the caller's model, values bound
            f" VALUES {', '.join([self._placeholders] * len(rows))}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for row in rows for value in row])
