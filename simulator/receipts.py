"""Posting back to the platform: delivery reports (after a random delay) and
inbound texts, through one shared aiohttp session with a connection limit.

Due jobs wait in a heap ordered by due time; one timer task moves due jobs
into a bounded queue that a fixed pool of workers drains. A failed POST goes
back into the heap with exponential backoff, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from simulator.config import SimConfig
from simulator.state import Store
from simulator.wire import SimMessage, now_iso, receipt_body

logger = logging.getLogger("simulator.receipts")

FAILURES = {
    "UNDELIVERABLE": [
        {"code": 34, "details": "Handset error", "permanent": False},
        {"code": 1, "details": "Unknown subscriber", "permanent": True},
        {"code": 9, "details": "Absent subscriber", "permanent": False},
    ],
    "EXPIRED": [{"code": 27, "details": "Validity period expired", "permanent": False}],
    "REJECTED": [
        {"code": 11, "details": "Rejected by the network operator", "permanent": True},
        {"code": 13, "details": "Blocked as spam by the network operator", "permanent": True},
    ],
}
NO_RETRY = frozenset({400, 401, 403, 404, 405, 410, 413, 422})


@dataclass(slots=True)
class Job:
    kind: str  # "receipt" | "inbound"
    url: str
    message: SimMessage | None = None  # receipts: the body is built when posted
    body: dict[str, Any] | None = None  # inbound: a ready body
    attempt: int = 0
    record: dict[str, Any] | None = None  # inbound: the phone's copy, whose status we keep


class ThrottledLog:
    """At most one line per key every few seconds, with a count of the ones skipped."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._last: dict[str, tuple[float, int]] = {}

    def warning(self, key: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        last, skipped = self._last.get(key, (0.0, 0))
        if now - last < self.every:
            self._last[key] = (last, skipped + 1)
            return
        suffix = f" (+{skipped} similar)" if skipped else ""
        logger.warning(message + suffix, *args)
        self._last[key] = (now, 0)


class Dispatcher:
    def __init__(self, config: SimConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.log = ThrottledLog()
        self._heap: list[tuple[float, int, Job]] = []
        self._order = itertools.count()
        self._ready: asyncio.Queue[Job] = asyncio.Queue(
            maxsize=max(100, config.receipt_concurrency * 8)
        )
        self._wake = asyncio.Event()
        self._in_flight = 0
        self._tasks: list[asyncio.Task] = []
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.config.receipt_concurrency, limit_per_host=0)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=10, connect=3)
        )
        self._tasks.append(asyncio.create_task(self._timer()))
        for _ in range(self.config.receipt_concurrency):
            self._tasks.append(asyncio.create_task(self._worker()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.session:
            await self.session.close()

    def clear(self) -> None:
        self._heap.clear()
        while not self._ready.empty():
            self._ready.get_nowait()

    @property
    def backlog(self) -> int:
        return len(self._heap) + self._ready.qsize() + self._in_flight

    async def room(self) -> None:
        """Back-pressure for the API: wait while too many receipts are pending."""
        while self.backlog >= self.config.max_pending:
            await asyncio.sleep(0.05)

    # --- scheduling ---
    def schedule_receipts(self, messages: list[SimMessage]) -> None:
        low, high = self.config.receipt_delay_ms
        now = time.monotonic()
        for m in messages:
            due = now + random.uniform(low, high) / 1000.0
            heapq.heappush(self._heap, (due, next(self._order), Job("receipt", "", message=m)))
        self._wake.set()

    def _retry(self, job: Job) -> bool:
        if job.attempt >= self.config.receipt_retries:
            return False
        job.attempt += 1
        backoff = min(30.0, 0.5 * 2 ** (job.attempt - 1)) * random.uniform(0.5, 1.5)
        heapq.heappush(self._heap, (time.monotonic() + backoff, next(self._order), job))
        self._wake.set()
        return True

    async def _timer(self) -> None:
        moved = 0
        while True:
            if not self._heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = self._heap[0][0] - time.monotonic()
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            _, _, job = heapq.heappop(self._heap)
            if job.kind == "receipt" and job.attempt == 0:
                self._settle(job)
                if not job.url:
                    continue
            await self._ready.put(job)
            moved += 1
            if moved % 256 == 0:
                await asyncio.sleep(0)  # let the API answer between long runs of due receipts

    def _settle(self, job: Job) -> None:
        """Decide the message's fate now that its receipt is due."""
        m = job.message
        assert m is not None
        c = self.config
        weights = (c.delivered, c.undelivered, c.failed)
        outcome = (
            random.choices(("DELIVERED", "UNDELIVERED", "REJECTED"), weights)[0]
            if any(weights)
            else "DELIVERED"
        )
        if outcome == "UNDELIVERED":
            outcome = "EXPIRED" if random.random() < 0.2 else "UNDELIVERABLE"
        m.status = outcome
        m.modified = now_iso()
        if outcome == "DELIVERED":
            m.deliveredat = m.modified
        else:
            m.failurereason = random.choice(FAILURES[outcome])
        self.store.counts[f"status_{outcome}"] += 1
        job.url = m.deliveryreporturl or c.receipt_url
        if not job.url:
            self.store.counts["receipts_no_url"] += 1

    # --- posting ---
    async def _worker(self) -> None:
        while True:
            job = await self._ready.get()
            jobs = [job]
            while len(jobs) < self.config.receipt_batch and not self._ready.empty():
                jobs.append(self._ready.get_nowait())
            self._in_flight += len(jobs)
            try:
                for (kind, url), group in _grouped(jobs).items():
                    await self._post_group(kind, url, group)
            except Exception:  # a worker must outlive any one bad job
                logger.exception("receipt worker error")
            finally:
                self._in_flight -= len(jobs)

    async def _post_group(self, kind: str, url: str, jobs: list[Job]) -> None:
        bodies = [self._body(job) for job in jobs]
        as_list = kind == "receipt" and self.config.receipt_batch > 1
        status, detail = await self.post(url, bodies if as_list else bodies[0])
        if 200 <= status < 300:
            self.store.counts[f"{kind}_posted"] += len(jobs)
            _mark(jobs, "POSTED")
            return
        for job in jobs:
            if status not in NO_RETRY and self._retry(job):
                self.store.counts[f"{kind}_retried"] += 1
                continue
            self.store.counts[f"{kind}_failed"] += 1
            _mark([job], "FAILED")
            self.log.warning(
                f"{kind}-failed",
                "%s to %s failed for good after %d attempt(s): %s",
                kind,
                url,
                job.attempt + 1,
                detail,
            )

    def _body(self, job: Job) -> dict[str, Any]:
        if job.message is not None:
            return receipt_body(job.message, self.config.customer_id)
        return job.body or {}

    async def post(self, url: str, payload: Any) -> tuple[int, str]:
        """(HTTP status, detail); status 0 when the platform did not answer."""
        assert self.session is not None
        data = json.dumps(payload, ensure_ascii=False).encode()
        try:
            async with self.session.post(
                url, data=data, headers={"Content-Type": "application/json"}
            ) as response:
                text = await response.text()
                return response.status, f"HTTP {response.status} {text[:200]}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, f"{type(exc).__name__}: {exc}"

    # --- inbound ---
    async def send_inbound(
        self, url: str, body: dict[str, Any], record: dict[str, Any] | None = None
    ) -> tuple[int, str, bool]:
        """Post one inbound text now; on failure keep retrying in the background.
        Returns (status, detail, will_retry)."""
        status, detail = await self.post(url, body)
        if 200 <= status < 300:
            self.store.counts["inbound_posted"] += 1
            return status, detail, False
        job = Job("inbound", url, body=body, record=record)
        if status not in NO_RETRY and self._retry(job):
            self.store.counts["inbound_retried"] += 1
            return status, detail, True
        self.store.counts["inbound_failed"] += 1
        self.log.warning("inbound-failed", "inbound to %s failed: %s", url, detail)
        return status, detail, False


def _grouped(jobs: list[Job]) -> dict[tuple[str, str], list[Job]]:
    groups: dict[tuple[str, str], list[Job]] = {}
    for job in jobs:
        groups.setdefault((job.kind, job.url), []).append(job)
    return groups


def _mark(jobs: list[Job], status: str) -> None:
    for job in jobs:
        if job.record is not None:
            job.record["status"] = status
