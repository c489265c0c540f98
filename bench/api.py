"""The REST API under load: accepted sends per second through POST /api/v1/messages
(gunicorn, several workers, a real concurrent HTTP client: aiohttp), and accept -> provider
latency of API sends while a bulk send goes out through real Celery workers to the
simulator.

    .venv/bin/python bench/api.py [--sends 6000] [--concurrency 32] [--web-workers 2]
                                  [--threads 8] [--bulk 50000] [--count 40]

The server runs as docs/production.md says (gthread workers: a client's connection
is kept alive between requests; sync workers close it after each answer, which cost
this 2-core machine about a third more CPU per send, server and client together).

Phase 1 (no Celery worker running, so the web processes have the CPU): --sends POSTs,
--concurrency at a time, each a real send (key check, rate limit, opt-out check,
outbox row, dispatch kick). Baseline, same run and client: GET of an unknown API URL
(the cost of a request through gunicorn and Django, with no key and no database),
in alternating rounds with the sends. Also the CPU time (user + system, from /proc)
of the gunicorn workers per accepted send against per bare 404: unlike rates, this
does not depend on how busy the machine is, so a change can be judged on a loaded
machine too; and this client's own CPU per send (it shares the machine).
Phase 2: --bulk messages queued for one sender and a worker sending them; meanwhile
--count API sends, spaced out; accept (just before the POST) -> the simulator's
record of the message.

Targets: >= 500 accepted sends/s; p95 accept -> provider < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import aiohttp
import httpx
from common import (
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
from priority import BULK_LEFT_SQL, provider_times


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=6000, help="phase 1 sends")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="gthread threads (1: sync)")
    parser.add_argument("--bulk", type=int, default=50_000, help="phase 2 bulk messages")
    parser.add_argument("--count", type=int, default=40, help="phase 2 API sends")
    parser.add_argument("--spacing", type=float, default=0.25, help="seconds between them")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for phase 2")
    return parser.parse_args()


async def hammer(
    url: str, n: int, concurrency: int, make_request
) -> tuple[float, list[float], dict[int, int]]:
    """n requests, `concurrency` at a time: (seconds, latencies, count by status).
    aiohttp, as bench/receipts.py: the load generator shares the 2 cores with the
    server, and httpx spent about 3 times its CPU per request."""
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    next_index = iter(range(n))
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for i in next_index:
                started = time.perf_counter()
                async with make_request(session, i) as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
                statuses[response.status] = statuses.get(response.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, statuses


ROUNDS = 4


def _add(total: dict[int, int], counted: dict[int, int]) -> None:
    for status, n in counted.items():
        total[status] = total.get(status, 0) + n


_TICK = os.sysconf("SC_CLK_TCK")


def _workers_cpu(master: int) -> float:
    """CPU seconds (user + system) used so far by gunicorn's workers (Linux /proc)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == master:
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def _delete_messages() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM messaging_message")


def run() -> tuple[list[Figure], dict[str, Any]]:
    args = parse_args()
    # Plain HTTP on localhost (production settings otherwise redirect to https).
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    setup(web_url=web_url)
    from api.keys import api_key_create
    from messaging import tasks

    with Processes() as procs:
        sim_url = procs.simulator("--keep", str(args.bulk + args.sends + 10_000))
        procs.gunicorn(web_port, workers=args.web_workers, threads=args.threads)
        master = procs.running[-1][1].pid
        sender = bench_sender(base_url=sim_url, token=sim_token(sim_url), rate=1_000_000)
        _, key = api_key_create(
            name="bench", scopes=["send", "read"], created_by=None, rate_limit=10_000_000
        )
        auth = {"Authorization": f"Bearer {key}"}

        def send(session: aiohttp.ClientSession, i: int):
            body = {"to": f"+447912{i % 1_000_000:06d}", "body": f"Order {i} has shipped."}
            return session.post("/api/v1/messages", json=body, headers=auth)

        def bare(session: aiohttp.ClientSession, i: int):
            return session.get("/api/v1/no-such-endpoint")

        # Warm up every web worker (connections, caches), then measure.
        asyncio.run(hammer(web_url, 200, args.concurrency, send))
        # Baseline and sends in alternating rounds: a change in the machine's load
        # during the run then weighs on both alike.
        base_s = send_s = base_cpu = send_cpu = client_cpu = 0.0
        latencies: list[float] = []
        base_statuses: dict[int, int] = {}
        statuses: dict[int, int] = {}
        per_round = max(1, args.sends // ROUNDS)
        for _ in range(ROUNDS):
            cpu = _workers_cpu(master)
            seconds, _, counted = asyncio.run(hammer(web_url, per_round, args.concurrency, bare))
            base_cpu += _workers_cpu(master) - cpu
            base_s += seconds
            _add(base_statuses, counted)
            cpu, mine = _workers_cpu(master), time.process_time()
            seconds, round_latencies, counted = asyncio.run(
                hammer(web_url, per_round, args.concurrency, send)
            )
            send_cpu += _workers_cpu(master) - cpu
            client_cpu += time.process_time() - mine
            send_s += seconds
            latencies += round_latencies
            _add(statuses, counted)
        accepted = statuses.get(201, 0)
        queued = fetch_one("SELECT count(*) FROM messaging_message")[0]
        print(f"phase 1: {accepted} accepted in {send_s:.1f}s; statuses {statuses}")

        # Phase 2: a bulk send through a real worker, API sends meanwhile.
        _delete_messages()
        procs.worker("worker", queues="transactional,bulk,default", concurrency=2, web_url=web_url)
        procs.beat(web_url=web_url)
        insert_messages(sender=sender, n=args.bulk)
        tasks.kick_dispatch(sender.pk, "bulk")
        wait_until(
            lambda: fetch_one(BULK_LEFT_SQL)[0] < args.bulk,
            timeout=60,
            what="the bulk send to start",
            procs=procs,
        )
        sends: list[tuple[str, float, int]] = []
        with httpx.Client(base_url=web_url, headers=auth, timeout=30) as client:
            for i in range(args.count):
                procs.check()
                bulk_left = fetch_one(BULK_LEFT_SQL)[0]
                at = time.time()
                response = client.post(
                    "/api/v1/messages",
                    json={"to": f"+447913{i:06d}", "body": f"Your code is {100000 + i}"},
                )
                response.raise_for_status()
                sends.append((response.json()["id"], at, bulk_left))
                time.sleep(args.spacing)
        wait_until(
            lambda: fetch_one(BULK_LEFT_SQL)[0] == 0,
            timeout=args.timeout,
            interval=0.5,
            what="the bulk send",
            procs=procs,
        )
    at_provider = provider_times({ref for ref, _, _ in sends})
    during = [(ref, at) for ref, at, left in sends if left > 0]
    delays = [at_provider[ref] - at for ref, at in during if ref in at_provider]
    p95 = percentile(delays, 95) if delays else float("inf")
    rate = accepted / send_s
    base_rate = base_statuses.get(404, 0) / base_s
    figures = [
        Figure(
            "api.accepted_sends_per_s",
            rate,
            "req/s",
            baseline=base_rate,
            target=500,
            note=f"{args.web_workers} gunicorn workers x {args.threads} threads, "
            f"{args.concurrency} in flight; "
            "baseline: JSON 404 with no key",
        ),
        Figure(
            "api.server_cpu_per_send",
            send_cpu / max(accepted, 1) * 1000,
            "ms",
            baseline=base_cpu / max(base_statuses.get(404, 0), 1) * 1000,
            higher_is_better=False,
            note="gunicorn workers' CPU per accepted send; baseline: per bare JSON 404",
        ),
        Figure(
            "api.client_cpu_per_send",
            client_cpu / max(accepted, 1) * 1000,
            "ms",
            higher_is_better=False,
            note="this process's CPU (the aiohttp client) per accepted send",
        ),
        Figure("api.send_latency_p50", percentile(latencies, 50) * 1000, "ms"),
        Figure("api.send_latency_p95", percentile(latencies, 95) * 1000, "ms"),
        Figure(
            "api.accept_to_provider_p95",
            p95,
            "s",
            target=2.0,
            higher_is_better=False,
            note=f"{len(delays)} API sends during a {args.bulk}-message bulk send",
        ),
        Figure("api.accept_to_provider_p50", percentile(delays, 50), "s"),
        Figure(
            "api.missing_at_provider",
            len(during) - len(delays),
            "msgs",
            target=0,
            higher_is_better=False,
        ),
    ]
    summary = {
        "bench": "api",
        "sends": args.sends,
        "accepted": accepted,
        "rows": queued,
        "web_workers": args.web_workers,
        "concurrency": args.concurrency,
        "bulk": args.bulk,
        "sends_during_bulk": len(during),
    }
    return figures, summary


if __name__ == "__main__":
    main(run)
