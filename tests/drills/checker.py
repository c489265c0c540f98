"""The drills' one invariant checker: the simulator's record and final receipts
against the database.

- none sent twice: one provider submit per message uuid (the simulator's JSONL
  record has a line per accepted message, written before it answers);
- none lost: every message of the campaign is in a final status, and every one the
  database calls sent, delivered or undelivered is in the record;
- every inbound text the phones sent is stored exactly once;
- every receipt applied: each message's status is the simulator's final receipt
  (DELIVERED -> delivered, UNDELIVERABLE/EXPIRED -> undelivered, REJECTED -> failed).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

RECEIPT_STATUS = {
    "DELIVERED": "delivered",
    "UNDELIVERABLE": "undelivered",
    "EXPIRED": "undelivered",
    "REJECTED": "failed",
}
AT_PROVIDER = ("sent", "delivered", "undelivered")
NOT_DONE = ("queued", "sending")


def record_references(record: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    if record.exists():
        with record.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    counts[json.loads(line)["reference"]] += 1
    return counts


def simulator_messages(sim_url: str, limit: int) -> list[dict[str, Any]]:
    response = httpx.get(f"{sim_url}/_sim/messages", params={"limit": limit}, timeout=120)
    return response.raise_for_status().json()["messages"]


@dataclass
class Findings:
    expected: int
    messages: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    twice: dict[str, int] = field(default_factory=dict)
    not_done: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # the database says sent, the provider has none
    unknown_at_provider: list[str] = field(default_factory=list)
    failed_before_provider: list[str] = field(default_factory=list)
    receipt_mismatch: list[tuple[str, str, str]] = field(default_factory=list)
    receipts_unposted: int = 0
    inbound_missing: list[str] = field(default_factory=list)
    inbound_twice: dict[str, int] = field(default_factory=dict)
    inbound_sent: int = 0
    pending_receipts: int = 0
    abandoned_receipts: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems()

    def problems(self) -> list[str]:
        out = []
        if self.messages != self.expected:
            out.append(f"{self.messages} outbound rows, expected {self.expected}")
        named = [
            ("sent twice (reference: times)", self.twice),
            ("never finished (queued/sending)", self.not_done),
            ("lost (recorded as sent, the provider has no record)", self.lost),
            ("accepted by the provider for no message of ours", self.unknown_at_provider),
            ("failed without reaching the provider", self.failed_before_provider),
            ("status differs from the final receipt (uuid, ours, receipt)", self.receipt_mismatch),
            ("inbound texts never stored", self.inbound_missing),
            ("inbound texts stored twice", self.inbound_twice),
        ]
        for label, items in named:
            if items:
                sample = list(items.items())[:5] if isinstance(items, dict) else list(items)[:5]
                out.append(f"{len(items)} {label}: {sample}")
        if self.receipts_unposted:
            out.append(f"{self.receipts_unposted} receipts the simulator could not post")
        if self.abandoned_receipts:
            out.append(f"{self.abandoned_receipts} receipts given up unmatched")
        return out

    def summary(self) -> str:
        return (
            f"{self.messages} messages {self.statuses}; inbound {self.inbound_sent}; "
            f"pending receipts {self.pending_receipts}"
        )


def check(
    *,
    campaign_id: int,
    expected: int,
    sim_url: str,
    record: Path,
    inbound_ids: list[str],
) -> Findings:
    from django.db.models import Count

    from messaging.models import Direction, Message, PendingReceipt
    from messaging.receipts import MAX_MATCH_ATTEMPTS

    findings = Findings(expected=expected, inbound_sent=len(inbound_ids))
    rows = list(
        Message.objects.filter(campaign_id=campaign_id).values_list("uuid", "status", "error_code")
    )
    findings.messages = len(rows)
    findings.statuses = dict(Counter(status for _, status, _ in rows))
    ours = {str(u): (status, code) for u, status, code in rows}

    references = record_references(record)
    findings.twice = {ref: n for ref, n in references.items() if n > 1}
    sim = {m["reference"]: m for m in simulator_messages(sim_url, max(1000, len(references) + 100))}
    # Outbound messages that are not the campaign's (keyword replies) are ignored here.
    others = {
        str(u)
        for u in Message.objects.filter(
            direction=Direction.OUTBOUND, campaign_id__isnull=True
        ).values_list("uuid", flat=True)
    }
    for reference in references:
        if reference not in ours and reference not in others:
            findings.unknown_at_provider.append(reference)
    for uuid, (status, _code) in ours.items():
        if status in NOT_DONE:
            findings.not_done.append(uuid)
            continue
        at_provider = uuid in references
        if status in AT_PROVIDER and not at_provider:
            findings.lost.append(uuid)
        if status == "failed" and not at_provider:
            findings.failed_before_provider.append(uuid)
        if at_provider:
            sim_message = sim.get(uuid)
            final = RECEIPT_STATUS.get(sim_message["status"]) if sim_message else None
            if final is not None and final != status:
                findings.receipt_mismatch.append((uuid, status, sim_message["status"]))
            elif final is None:
                findings.receipt_mismatch.append(
                    (uuid, status, sim_message["status"] if sim_message else "no receipt")
                )

    stored: dict[str, int] = dict(
        Message.objects.filter(direction=Direction.INBOUND, provider_message_id__in=inbound_ids)
        .values("provider_message_id")
        .annotate(n=Count("id"))
        .values_list("provider_message_id", "n")
    )
    findings.inbound_missing = [i for i in inbound_ids if i not in stored]
    findings.inbound_twice = {i: n for i, n in stored.items() if n > 1}
    findings.pending_receipts = PendingReceipt.objects.filter(
        attempts__lt=MAX_MATCH_ATTEMPTS
    ).count()
    findings.abandoned_receipts = PendingReceipt.objects.filter(
        attempts__gte=MAX_MATCH_ATTEMPTS
    ).count()
    stats = httpx.get(f"{sim_url}/_sim/stats", timeout=30).raise_for_status().json()
    findings.receipts_unposted = stats["receipts"]["failed"] + stats["inbound"]["failed"]
    return findings


def settled(
    *, campaign_id: int, expected: int, sim_url: str, inbound_ids: list[str]
) -> tuple[bool, str]:
    """Cheap: is there still work in flight? (what the drill waits for before checking)"""
    from messaging.models import Direction, Message, PendingReceipt, Status
    from messaging.receipts import MAX_MATCH_ATTEMPTS

    counts = Counter(
        Message.objects.filter(campaign_id=campaign_id).values_list("status", flat=True)
    )
    total = sum(counts.values())
    in_flight = counts[Status.QUEUED] + counts[Status.SENDING]
    stats = httpx.get(f"{sim_url}/_sim/stats", timeout=30).raise_for_status().json()
    receipts_pending = stats["receipts"]["pending"]
    awaiting = counts[Status.SENT]
    stored_receipts = PendingReceipt.objects.filter(attempts__lt=MAX_MATCH_ATTEMPTS).count()
    inbound = Message.objects.filter(
        direction=Direction.INBOUND, provider_message_id__in=inbound_ids
    ).count()
    state = (
        f"rows {total}/{expected}, queued+sending {in_flight}, sent awaiting receipt "
        f"{awaiting}, simulator receipts pending {receipts_pending}, stored receipts "
        f"{stored_receipts}, inbound {inbound}/{len(inbound_ids)}"
    )
    done = (
        total == expected
        and in_flight == 0
        and receipts_pending == 0
        and awaiting == 0
        and stored_receipts == 0
        and inbound >= len(inbound_ids)
    )
    return done, state
