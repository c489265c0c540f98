"""What the simulator remembers: accepted messages (bounded), the duplicate
ledger (unbounded: every reference since the last reset), counters, the texts
the virtual phones sent, and the JSONL record on disk."""

from __future__ import annotations

import itertools
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from simulator.wire import SimMessage, record_line


class Recorder:
    """Appends one JSON line per accepted message; flushed after every request so the
    file survives a killed simulator."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self.path.open("a", encoding="utf-8")

    def write(self, messages: Iterable[SimMessage]) -> None:
        self._file.write("".join(record_line(m) for m in messages))
        self._file.flush()

    def truncate(self) -> None:
        self._file.close()
        self._file = self.path.open("w", encoding="utf-8")

    def close(self) -> None:
        self._file.close()


class Store:
    def __init__(self, *, keep: int, recorder: Recorder) -> None:
        self.keep = keep
        self.recorder = recorder
        self.started = time.time()
        self.reset()

    def reset(self) -> None:
        self.messages: OrderedDict[str, SimMessage] = OrderedDict()
        self.by_reference: dict[str, SimMessage] = {}
        self.by_destination: dict[str, deque[SimMessage]] = {}
        self.batches: OrderedDict[str, list[SimMessage]] = OrderedDict()
        self.seen_references: set[str] = set()
        self.duplicate_samples: deque[str] = deque(maxlen=100)
        self.phone_sent: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.counts: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.credits_used = 0.0
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        return next(self._seq)

    # --- writes ---
    def add(self, messages: list[SimMessage], *, batchid: str = "") -> None:
        """Remember accepted and rejected messages; record and dedupe the accepted ones."""
        accepted = []
        for m in messages:
            self.messages[m.messageid] = m
            self.by_destination.setdefault(m.destination, deque()).append(m)
            if m.status == "REJECTED":
                self.counts["rejected"] += 1
                continue
            accepted.append(m)
            self.credits_used += m.credits
            if m.reference:
                if m.reference in self.seen_references:
                    m.duplicate = True
                    self.counts["duplicates"] += 1
                    self.duplicate_samples.append(m.reference)
                else:
                    self.seen_references.add(m.reference)
                self.by_reference[m.reference] = m
        self.counts["accepted"] += len(accepted)
        if batchid:
            self.batches[batchid] = messages
            self.counts["batches"] += 1
        if accepted:
            self.recorder.write(accepted)
        self._evict()

    def _evict(self) -> None:
        while len(self.messages) > self.keep:
            _, old = self.messages.popitem(last=False)
            queue = self.by_destination.get(old.destination)
            if queue and queue[0] is old:
                queue.popleft()
                if not queue:
                    del self.by_destination[old.destination]
            if self.by_reference.get(old.reference) is old:
                del self.by_reference[old.reference]
            # Eviction is oldest first: once a batch loses its first message, drop its listing.
            if old.batchid:
                self.batches.pop(old.batchid, None)

    def add_phone_text(self, text: dict[str, Any]) -> None:
        self.phone_sent.append(text)
        self.counts["inbound_sent"] += 1

    # --- reads ---
    def newest(self) -> Iterator[SimMessage]:
        return reversed(self.messages.values())

    def for_destination(self, number: str) -> Iterator[SimMessage]:
        return reversed(self.by_destination.get(number, ()))

    def known_numbers(self, limit: int = 50) -> list[str]:
        numbers: dict[str, None] = {}
        for text in reversed(self.phone_sent):
            numbers.setdefault(text["from"], None)
        for m in self.newest():
            if len(numbers) >= limit:
                break
            numbers.setdefault(m.destination, None)
        return list(numbers)[:limit]

    def platform_numbers(self, limit: int = 20) -> list[str]:
        numbers: dict[str, None] = {}
        for m in itertools.islice(self.newest(), 5000):
            if m.sender.isdigit():  # an alphanumeric sender ID cannot be replied to
                numbers.setdefault(m.sender, None)
            if len(numbers) >= limit:
                break
        return list(numbers)

    def stats(self) -> dict[str, Any]:
        c = self.counts
        return {
            "accepted": c["accepted"],
            "rejected": c["rejected"],
            "batches": c["batches"],
            "duplicates": c["duplicates"],
            "duplicate_references": list(self.duplicate_samples),
            "unique_references": len(self.seen_references),
            "credits_used": self.credits_used,
            "auth_failures": c["auth_failures"],
            "faults": {
                "rate_429": self.faults["429"],
                "rate_5xx": self.faults["5xx"],
                "rate_slow": self.faults["slow"],
                "rate_timeout": self.faults["timeout"],
            },
            "receipts": {
                "posted": c["receipt_posted"],
                "failed": c["receipt_failed"],
                "retried": c["receipt_retried"],
                "skipped_no_url": c["receipts_no_url"],
                "by_status": {
                    status: c[f"status_{status}"]
                    for status in ("DELIVERED", "UNDELIVERABLE", "EXPIRED", "REJECTED")
                },
            },
            "inbound": {
                "sent": c["inbound_sent"],
                "posted": c["inbound_posted"],
                "failed": c["inbound_failed"],
                "retried": c["inbound_retried"],
            },
            "held_in_memory": len(self.messages),
            "uptime_s": round(time.time() - self.started, 1),
        }
