"""Transactional sends during a bulk send: while N bulk messages of one sender go out
through real Celery workers to the simulator, this process sends --count one-off
transactional messages with messaging.services.message_send, spaced through the run,
and measures accept -> provider: from the call to message_send to the time the
simulator accepted the message (its record file's `created`).

    .venv/bin/python bench/priority.py [--n 100000] [--count 50] [--layout procfile|split]

procfile  one worker for every queue, as the Procfile runs it (-Q transactional,bulk,
          default, concurrency 2).
split     the same worker for bulk and default, plus a one-process worker for the
          transactional queue only.

Target: p95 < 2 s over the sends made while bulk messages were still queued.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

from common import (
    VAR,
    Figure,
    Processes,
    bench_sender,
    fetch_one,
    free_port,
    insert_messages,
    main,
    percentile,
    setup,
    sim_token,
    wait_until,
)

BULK_LEFT_SQL = "SELECT count(*) FROM messaging_message WHERE status IN ('queued', 'sending')"
LAST_BULK_SENT_SQL = (
    "SELECT extract(epoch FROM max(sent_at)) FROM messaging_message WHERE priority = 'bulk'"
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="bulk messages")
    parser.add_argument("--count", type=int, default=50, help="transactional sends")
    parser.add_argument("--spacing", type=float, default=0.5, help="seconds between them")
    parser.add_argument("--layout", choices=("procfile", "split"), default="procfile")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds for the whole run")
    return parser.parse_args()


def provider_times(references: set[str]) -> dict[str, float]:
    """reference -> when the simulator accepted it (epoch seconds), from its record."""
    found: dict[str, float] = {}
    with open(VAR / "simulator-messages.jsonl", encoding="utf-8") as record:
        for line in record:
            item = json.loads(line)
            if item["reference"] in references:
                created = datetime.fromisoformat(item["created"].replace("Z", "+00:00"))
                found[item["reference"]] = created.timestamp()
    return found


def run() -> tuple[list[Figure], dict[str, Any]]:
    args = parse_args()
    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    setup(web_url=web_url)
    from messaging import tasks
    from messaging.models import Message, Priority
    from messaging.services import message_send

    with Processes() as procs:
        sim_url = procs.simulator("--keep", str(args.n + 10_000))
        procs.gunicorn(web_port, workers=2, threads=8)
        if args.layout == "split":
            procs.worker(
                "worker-transactional", queues="transactional", concurrency=1, web_url=web_url
            )
            procs.worker("worker", queues="bulk,default", concurrency=2, web_url=web_url)
        else:
            procs.worker(
                "worker", queues="transactional,bulk,default", concurrency=2, web_url=web_url
            )
        procs.beat(web_url=web_url)
        sender = bench_sender(base_url=sim_url, token=sim_token(sim_url), rate=1_000_000)
        insert_messages(sender=sender, n=args.n)
        kicked = time.time()
        tasks.kick_dispatch(sender.pk, "bulk")
        wait_until(
            lambda: fetch_one(BULK_LEFT_SQL)[0] < args.n,
            timeout=60,
            what="the bulk send to start",
            procs=procs,
        )

        sends: list[tuple[str, float, int]] = []  # (uuid, accepted at, bulk left then)
        for i in range(args.count):
            procs.check()
            bulk_left = fetch_one(BULK_LEFT_SQL)[0]
            accepted = time.time()
            outcome = message_send(
                to=f"+447912{900000 + i:06d}",
                body=f"Your code is {100000 + i}",
                sender=sender,
                priority=Priority.TRANSACTIONAL,
            )
            sends.append((str(outcome.message.uuid), accepted, bulk_left))
            time.sleep(args.spacing)
        print(f"sent {len(sends)} transactional; waiting for the bulk send to finish")
        wait_until(
            lambda: fetch_one(BULK_LEFT_SQL)[0] == 0,
            timeout=args.timeout,
            interval=0.5,
            what="the bulk send",
            procs=procs,
        )
        bulk_seconds = float(fetch_one(LAST_BULK_SENT_SQL)[0]) - kicked
        sent_at = {
            str(m.uuid): m.sent_at.timestamp()
            for m in Message.objects.filter(priority=Priority.TRANSACTIONAL, sent_at__isnull=False)
        }
    at_provider = provider_times({ref for ref, _, _ in sends})

    during = [(ref, at) for ref, at, left in sends if left > 0]
    latencies = [at_provider[ref] - at for ref, at in during if ref in at_provider]
    recorded = [sent_at[ref] - at for ref, at in during if ref in sent_at]
    missing = len(during) - len(latencies)
    p95 = percentile(latencies, 95) if latencies else float("inf")
    layout = args.layout
    figures = [
        Figure(
            f"priority.{layout}.accept_to_provider_p95",
            p95,
            "s",
            target=2.0,
            higher_is_better=False,
            note=f"{len(latencies)} sends during bulk",
        ),
        Figure(f"priority.{layout}.accept_to_provider_p50", percentile(latencies, 50), "s"),
        Figure(f"priority.{layout}.accept_to_provider_max", max(latencies, default=0.0), "s"),
        Figure(f"priority.{layout}.accept_to_sent_recorded_p95", percentile(recorded, 95), "s"),
        Figure(
            f"priority.{layout}.missing_at_provider",
            missing,
            "msgs",
            target=0,
            higher_is_better=False,
        ),
        Figure(
            f"priority.{layout}.bulk_rate",
            args.n / bulk_seconds,
            "msg/s",
            note="bulk: queued -> last sent recorded",
        ),
    ]
    summary = {
        "bench": "priority",
        "layout": layout,
        "n": args.n,
        "sends_during_bulk": len(during),
        "p95_s": f"{p95:.3f}",
        "target_s": "2.0",
        "ratio_to_target": f"{p95 / 2.0:.2f}",
    }
    return figures, summary


if __name__ == "__main__":
    main(run)
