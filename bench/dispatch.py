"""Dispatch throughput: N queued messages of one sender go through real Celery workers
and the SMS Works backend to the simulator process; the simulator posts a receipt for
each to gunicorn, and the workers apply them.

    .venv/bin/python bench/dispatch.py [--n 100000] [--mode batch|single]

batch   the backend's batch endpoint (claims of 1000, one POST /v1/batch/any and one
        GET /v1/batch/{id} each). Target: >= 2,000 msg/s.
single  the account's credentials["use_batch"] = "off": one POST /v1/message/send per
        message, 32 in flight per dispatch, and the simulator answers every API call
        after 50 ms (--rate-slow 1 --slow-ms 50). Target: >= 300 msg/s.

sent rate      N / (last sent_at - the kick): queued to sent-recorded.
receipts rate  N / (all receipts applied - the kick): queued to receipt applied, so it
               includes the simulator's receipt delay.
baseline       the simulator's raw capacity: the same kind of messages posted by a bare
               httpx client (batch: the same two calls per 1000; single: 32 threads).
"""

from __future__ import annotations

import argparse
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from common import (
    SENDER_NUMBER,
    Figure,
    Processes,
    bench_sender,
    fetch_one,
    free_port,
    insert_messages,
    main,
    setup,
    sim_token,
    wait_until,
)

TARGETS = {"batch": 2000.0, "single": 300.0}
PROGRESS_SQL = """
    SELECT count(*) FILTER (WHERE status IN ('queued', 'sending')),
           count(*) FILTER (WHERE status IN ('delivered', 'undelivered', 'failed')),
           (SELECT count(*) FROM messaging_pendingreceipt)
    FROM messaging_message
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="messages to queue")
    parser.add_argument("--mode", choices=("batch", "single"), default="batch")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--receipt-delay-ms", type=int, nargs=2, default=(200, 2000))
    parser.add_argument(
        "--receipt-batch", type=int, default=1, help="receipts per POST (simulator extension)"
    )
    parser.add_argument("--baseline-n", type=int, default=20_000, help="messages for baseline")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds for the whole run")
    return parser.parse_args()


def sim_message(reference: str, i: int) -> dict[str, Any]:
    """A message as the backend sends it (no deliveryreporturl: no receipt comes back)."""
    return {
        "sender": SENDER_NUMBER.lstrip("+"),
        "destination": f"4479{i:08d}",
        "content": f"Bench {i}: your order has shipped, reply STOP to opt out.",
        "tag": reference,
        "metadata": [{"key": "reference", "value": reference}],
    }


def provider_capacity(sim_url: str, mode: str, n: int) -> float:
    """Messages/s the simulator takes from a bare client, with no platform in between."""
    headers = {"Authorization": f"JWT {sim_token(sim_url)}"}
    messages = [sim_message(str(uuid.uuid4()), i) for i in range(n)]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    with httpx.Client(timeout=30, headers=headers, limits=limits) as client:
        started = time.perf_counter()
        if mode == "batch":
            for start in range(0, n, 1000):
                answer = client.post(f"{sim_url}/v1/batch/any", json=messages[start : start + 1000])
                batch_id = answer.raise_for_status().json()["batchid"]
                client.get(f"{sim_url}/v1/batch/{batch_id}").raise_for_status()
        else:
            with ThreadPoolExecutor(max_workers=32) as pool:
                for answer in pool.map(
                    lambda m: client.post(f"{sim_url}/v1/message/send", json=m), messages
                ):
                    answer.raise_for_status()
        elapsed = time.perf_counter() - started
    httpx.post(f"{sim_url}/_sim/reset", timeout=10).raise_for_status()
    return n / elapsed


def run() -> tuple[list[Figure], dict[str, Any]]:
    args = parse_args()
    from_queued_to_done = args.timeout
    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    setup(web_url=web_url)
    from messaging import tasks

    sim_flags = ["--delivered", "1", "--undelivered", "0", "--failed", "0"]
    sim_flags += ["--keep", str(args.n + 10_000), "--receipt-delay-ms"]
    sim_flags += [str(ms) for ms in args.receipt_delay_ms]
    sim_flags += ["--receipt-batch", str(args.receipt_batch)]
    if args.mode == "single":
        sim_flags += ["--rate-slow", "1", "--slow-ms", "50"]
    with Processes() as procs:
        sim_url = procs.simulator(*sim_flags)
        baseline_n = min(args.n, args.baseline_n)
        capacity = provider_capacity(sim_url, args.mode, baseline_n)
        print(f"provider capacity ({args.mode}, {baseline_n} messages): {capacity:.0f} msg/s")
        procs.gunicorn(web_port, workers=args.web_workers, threads=args.threads)
        procs.worker(
            "worker",
            queues="transactional,bulk,default",
            concurrency=args.concurrency,
            web_url=web_url,
        )
        procs.beat(web_url=web_url)
        credentials = {"use_batch": "off"} if args.mode == "single" else {}
        # A rate limit far above what the machine can do: the engine is what is measured.
        sender = bench_sender(
            base_url=sim_url, token=sim_token(sim_url), rate=1_000_000, credentials=credentials
        )

        started = time.perf_counter()
        insert_messages(sender=sender, n=args.n)
        insert_seconds = time.perf_counter() - started
        print(f"queued {args.n} rows in {insert_seconds:.2f} s (one INSERT ... SELECT)")

        kicked = time.time()
        tasks.kick_dispatch(sender.pk, "bulk")
        samples: list[tuple[float, int, int]] = []

        def finished() -> bool:
            waiting, final, pending = fetch_one(PROGRESS_SQL)
            samples.append((time.time(), waiting, final))
            if len(samples) % 10 == 0:
                print(
                    f"  t={samples[-1][0] - kicked:6.1f}s to send={waiting} "
                    f"receipts pending={pending} applied={final}"
                )
            return final >= args.n

        wait_until(
            finished, timeout=from_queued_to_done, interval=0.5, what="every receipt", procs=procs
        )
        all_applied = samples[-1][0]
        sent_first, sent_last = fetch_one(
            "SELECT extract(epoch FROM min(sent_at)), extract(epoch FROM max(sent_at)) "
            "FROM messaging_message"
        )
        stats = httpx.get(f"{sim_url}/_sim/stats", timeout=10).json()

    sent_seconds = float(sent_last) - kicked
    sent_rate = args.n / sent_seconds
    receipts_rate = args.n / (all_applied - kicked)
    target = TARGETS[args.mode]
    figures = [
        Figure(
            f"dispatch.{args.mode}.sent_rate",
            sent_rate,
            "msg/s",
            baseline=capacity,
            target=target,
            note="queued -> sent recorded; baseline: bare client to simulator",
        ),
        Figure(
            f"dispatch.{args.mode}.receipts_rate",
            receipts_rate,
            "receipts/s",
            note=f"queued -> receipt applied ({args.receipt_batch} per POST)",
        ),
        Figure(f"dispatch.{args.mode}.first_sent_after", float(sent_first) - kicked, "s"),
        Figure(
            f"dispatch.{args.mode}.receipt_tail",
            all_applied - float(sent_last),
            "s",
            note="last sent -> all receipts applied (0.5 s polling)",
        ),
        Figure("dispatch.insert_rate", args.n / insert_seconds, "rows/s"),
    ]
    duplicates = stats["duplicates"]
    summary = {
        "bench": "dispatch",
        "mode": args.mode,
        "n": args.n,
        "msg_per_s": f"{sent_rate:.0f}",
        "target": f"{target:.0f}",
        "ratio_to_target": f"{sent_rate / target:.2f}",
        "provider_msg_per_s": f"{capacity:.0f}",
        "ratio_to_provider": f"{sent_rate / capacity:.2f}",
        "receipts_per_s": f"{receipts_rate:.0f}",
        "accepted": stats["accepted"],
        "duplicates": duplicates,
    }
    if stats["accepted"] != args.n or duplicates:
        raise RuntimeError(f"the simulator accepted {stats['accepted']} ({duplicates} twice)")
    return figures, summary


if __name__ == "__main__":
    main(run)
