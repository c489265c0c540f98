"""Receipt webhook throughput: N delivery receipts (one JSON body per POST, signed with
the account's webhook token, as The SMS Works posts them) sent to the receipts webhook
under gunicorn (gunicorn.conf.py's settings, 2 workers x 8 threads) by a concurrent
client; a real Celery worker (and beat) applies them.

    .venv/bin/python bench/receipts.py [--n 20000] [--concurrency 32] [--client wrk]

Before anything is measured, --warm-n receipts are posted and applied: every thread
opens its database connection and every worker caches the account, as on a server
that has been up a while (the first requests otherwise take up to 380 ms each).

The client of the closed loops is wrk (Debian's `wrk` package; bench/wrk_post.lua)
when it is installed, else aiohttp. On this 2-core machine the client shares the
cores with the server: aiohttp spent about 0.25-0.3 ms of CPU per request, a fifth
of what a receipt costs the server, wrk about 0.05 ms. `make bench` installs wrk
where it can (apt-get as root).

Figures: receipts/s and latency percentiles at the client; the same server's rate on
a trivial view (the 404 page: GET of an unknown URL, through the whole middleware stack
and the 404 template) as the baseline; and "lost": N - (receipts still pending +
messages the receipts moved to delivered), which must be 0. Targets: >= 2,000
receipts/s, p99 < 50 ms, >= 0.6 of the trivial view's rate, none lost.

Latency, two ways. `p50`/`p99`: at the client of the closed loop above (32 requests in
flight, each sent when one answers, as fast as the server goes): the server is
saturated, so these are mostly time spent queueing behind the other 31. `p99_open`:
afterwards, --open-n more receipts are POSTed open loop at a fixed offered rate,
--open-load (default 0.5) x the closed-loop rate this run measured, each at its own
scheduled moment whatever happened to the ones before; its latency runs from that
moment to the answer, so time the client spent late or waiting for a connection
counts too (no coordinated omission). It is the latency a provider sees when the
server is at that fraction of what it can take.

CPU per request, by part (ms of user + system CPU from /proc, divided by the requests
of the phase): the gunicorn processes, this client process, the PostgreSQL backends
of the bench database, and the Celery worker and beat that apply the receipts. Rates
on a shared machine move with the load; these move far less, so they show where a
receipt's cost goes and whether a change cut it. Not counted: PostgreSQL's shared
background processes (WAL writer, checkpointer) and the kernel's work outside them.
Also: the machine's idle CPU while posting (near 0: CPU-bound), and receipts per
transaction committed in the bench database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
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
    wait_until,
)

TRIVIAL_PATH = "/bench-trivial-404/"
OPEN_LOOP_CONNECTIONS = 256
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STATS_LAG = 11  # s: PostgreSQL's idle backends report their statistics within 10 s


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="receipts to post")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--per-request", type=int, default=1, help="receipts per POST (> 1: a JSON array)"
    )
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="gthread threads (1: sync)")
    parser.add_argument("--trivial-n", type=int, default=10_000, help="requests for baseline")
    parser.add_argument(
        "--no-health-checks",
        action="store_true",
        help="what-if: Django's per-request connection health check off (bench/settings.py)",
    )
    parser.add_argument(
        "--open-n", type=int, default=5000, help="receipts for the open-loop latency (0: none)"
    )
    parser.add_argument(
        "--warm-n",
        type=int,
        default=2000,
        help="receipts posted (and applied) before anything is measured",
    )
    parser.add_argument(
        "--open-load",
        type=float,
        default=0.5,
        help="open-loop offered rate, as a fraction of the closed-loop rate measured",
    )
    parser.add_argument(
        "--client",
        choices=("wrk", "aiohttp"),
        default="wrk" if shutil.which("wrk") else "aiohttp",
        help="load generator of the closed loops (default: wrk when installed)",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds for each phase")
    return parser.parse_args()


def receipt_bodies(sender_id: int, per_request: int) -> list[bytes]:
    """One DELIVERED receipt per sent message, in the shape the simulator posts; one
    object per POST body, or arrays of `per_request` of them."""
    from messaging.models import Message

    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    rows = Message.objects.filter(sender_id=sender_id).values_list(
        "uuid", "provider_message_id", "to_number", "body"
    )
    bodies: list[dict[str, Any]] = []
    for reference, message_id, to_number, text in rows.iterator(chunk_size=5000):
        body = {
            "messageid": message_id,
            "id": message_id,
            "customerid": "bench",
            "batchid": "",
            "sender": "447700900100",
            "destination": to_number.lstrip("+"),
            "content": text,
            "tag": str(reference),
            "status": "DELIVERED",
            "created": now,
            "modified": now,
            "deliveredat": now,
            "credits": 1.0,
            "metadata": [{"key": "reference", "value": str(reference)}],
        }
        bodies.append(body)
    if per_request == 1:
        return [json.dumps(body).encode() for body in bodies]
    return [
        json.dumps(bodies[i : i + per_request]).encode() for i in range(0, len(bodies), per_request)
    ]


async def hammer(
    url: str, bodies: list[bytes] | None, count: int, concurrency: int, timeout: float
) -> tuple[float, list[float], int]:
    """POST each body (GET when bodies is None) `count` times with `concurrency` in
    flight. Returns (elapsed seconds, latencies in ms, non-2xx answers)."""
    latencies: list[float] = []
    errors = 0
    next_index = iter(range(count))
    connector = aiohttp.TCPConnector(limit=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=30)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def one_client() -> None:
            nonlocal errors
            for i in next_index:
                started = time.perf_counter()
                if bodies is None:
                    request = session.get(url)
                else:
                    request = session.post(url, data=bodies[i], headers=headers)
                async with request as answer:
                    await answer.read()
                    ok = 200 <= answer.status < 300 or (bodies is None and answer.status == 404)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        started = time.perf_counter()
        clients = [one_client() for _ in range(concurrency)]
        await asyncio.wait_for(asyncio.gather(*clients), timeout)
        elapsed = time.perf_counter() - started
    return elapsed, latencies, errors


WRK_SCRIPT = Path(__file__).with_name("wrk_post.lua")


def wrk(
    url: str, bodies: list[bytes] | None, count: int, concurrency: int, timeout: float
) -> tuple[float, float, float, int]:
    """As hammer(), by wrk (C, one thread): on a 2-core machine a Python client's own
    CPU is a fifth of what a receipt costs the server, and comes off the server's
    share. Returns (seconds from the first request to the count-th answer, p50 ms,
    p99 ms, non-2xx answers). At most concurrency - 1 bodies are POSTed twice at the
    end (connections that came free before the last answer; bench/wrk_post.lua)."""
    with tempfile.NamedTemporaryFile("wb", suffix=".txt") as lines:
        for body in bodies or []:
            lines.write(body.replace(b"\n", b" ") + b"\n")
        lines.flush()
        argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{int(timeout)}s", "--timeout", "30s"]
        argv += ["-s", str(WRK_SCRIPT), url, "--", str(count)]
        if bodies is not None:
            argv.append(lines.name)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)  # noqa: S603 - ours
        started = finished = 0.0
        output = []
        for line in proc.stdout:
            if line == "START\n":
                started = time.perf_counter()
            elif line == "DONE\n":
                finished = time.perf_counter()
                proc.send_signal(signal.SIGINT)  # wrk prints its summary and ends
            output.append(line)
        proc.wait(timeout=30)
    result = next((json.loads(x[4:]) for x in output if x.startswith("WRK ")), None)
    if result is None or not finished:
        raise RuntimeError(f"wrk did not answer {count} requests: {''.join(output)}")
    errors = result["non_2xx"] + result["socket_errors"]
    if bodies is not None:
        errors += result["not_found"]
    elapsed = finished - started
    return elapsed, result["p50_ms"], result["p99_ms"], errors


def closed_loop(
    args: argparse.Namespace, url: str, bodies: list[bytes] | None, count: int
) -> tuple[float, float, float, int]:
    """`count` requests, `args.concurrency` in flight, by `args.client`: (elapsed
    seconds, p50 ms, p99 ms, non-2xx answers)."""
    if args.client == "wrk":
        return wrk(url, bodies, count, args.concurrency, args.timeout)
    elapsed, latencies, errors = asyncio.run(
        hammer(url, bodies, count, args.concurrency, args.timeout)
    )
    return elapsed, percentile(latencies, 50), percentile(latencies, 99), errors


async def open_loop(
    url: str, bodies: list[bytes], rate: float, timeout: float
) -> tuple[float, list[float], int]:
    """POST body i at start + i / rate, whatever the answers before it (open loop).
    Latency runs from that scheduled moment, not from when the request left, so a late
    client or a wait for a connection counts. Returns (elapsed, latencies ms, non-2xx)."""
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=OPEN_LOOP_CONNECTIONS)
    client_timeout = aiohttp.ClientTimeout(total=30)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def one(body: bytes, scheduled: float) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            async with session.post(url, data=body, headers=headers) as answer:
                await answer.read()
                errors += not 200 <= answer.status < 300
            latencies.append((loop.time() - scheduled) * 1000)

        start = loop.time() + 0.1
        requests = [one(body, start + i / rate) for i, body in enumerate(bodies)]
        await asyncio.wait_for(asyncio.gather(*requests), timeout)
        elapsed = loop.time() - start
    return elapsed, latencies, errors


def _stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()
    except OSError:  # the process ended
        return None


def _cpu_of(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def cpu_seconds(procs: Processes) -> dict[str, float]:
    """CPU seconds used so far by each part: the processes of gunicorn's session
    ("web"), of Celery's worker and beat ("apply"), the bench database's PostgreSQL
    backends but this process's own ("postgres"), and this process ("client")."""
    from django.db import connection

    groups = {proc.pid: name for name, proc in procs.running}
    part_of = {"gunicorn": "web", "worker": "apply", "beat": "apply"}
    totals = {"web": 0.0, "apply": 0.0, "postgres": 0.0}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(entry)) is not None:
            part = part_of.get(groups.get(int(fields[2]), ""))
            if part:
                totals[part] += _cpu_of(fields)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        for (pid,) in cursor.fetchall():
            if (fields := _stat(pid)) is not None:
                totals["postgres"] += _cpu_of(fields)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has ended
    totals["client"] = time.process_time() + children.ru_utime + children.ru_stime
    return totals


def machine_ticks() -> tuple[int, int]:
    """(idle, all) clock ticks of the machine's CPUs so far (/proc/stat; idle counts
    time waiting for I/O too)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)


def commits() -> int:
    """Transactions committed in the bench database so far, read-only ones included
    (PostgreSQL's statistics: an idle backend reports its own within STATS_LAG)."""
    (count,) = fetch_one(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    return count


def idle_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    return (after[0] - before[0]) / max(1, after[1] - before[1])


def cpu_ms_per_request(
    before: dict[str, float], after: dict[str, float], requests: int
) -> dict[str, float]:
    return {part: 1000 * (after[part] - before[part]) / requests for part in before}


def run() -> tuple[list[Figure], dict[str, Any]]:
    args = parse_args()
    if args.no_health_checks:
        os.environ["BENCH_CONN_HEALTH_CHECKS"] = "off"
    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    setup(web_url=web_url)
    from messaging.services import webhook_url

    with Processes() as procs:
        procs.gunicorn(web_port, workers=args.web_workers, threads=args.threads)
        procs.worker("worker", queues="transactional,bulk,default", concurrency=2, web_url=web_url)
        procs.beat(web_url=web_url)
        # No provider is called: the messages are already sent.
        sender = bench_sender(base_url="http://127.0.0.1:9", token="", rate=1000)
        total = args.warm_n + args.n + args.open_n
        insert_messages(sender=sender, n=total, status="sent")
        bodies = receipt_bodies(sender.pk, args.per_request)
        per_post = max(1, args.per_request)
        warm_posts = (args.warm_n + per_post - 1) // per_post
        closed_posts = (args.n + per_post - 1) // per_post
        warm_bodies = bodies[:warm_posts]
        open_bodies = bodies[warm_posts + closed_posts :]
        bodies = bodies[warm_posts : warm_posts + closed_posts]
        url = webhook_url(sender.account, "receipts")

        def counts() -> tuple[int, int]:
            return fetch_one(
                "SELECT (SELECT count(*) FROM messaging_pendingreceipt), "
                "(SELECT count(*) FROM messaging_message WHERE status = 'delivered')"
            )

        def wait_applied() -> None:
            wait_until(
                lambda: counts()[0] == 0,
                timeout=args.timeout,
                what="receipts applied",
                interval=0.2,
                procs=procs,
            )

        # Warm both paths first, as a server that has been up a while is: every thread's
        # database connection open, the account cached in every worker, imports done.
        # Then measure the trivial view (it commits nothing).
        if warm_bodies:
            closed_loop(args, url, warm_bodies, len(warm_bodies))
            wait_applied()
            time.sleep(STATS_LAG)  # the warm-up's commits reported before counting
        commits_before = commits()
        closed_loop(args, web_url + TRIVIAL_PATH, None, 200)
        cpu_start = cpu_seconds(procs)
        trivial_s, _, trivial_p99, trivial_errors = closed_loop(
            args, web_url + TRIVIAL_PATH, None, args.trivial_n
        )
        cpu_trivial = cpu_seconds(procs)
        ticks_before = machine_ticks()
        trivial_rate = args.trivial_n / trivial_s
        print(f"trivial view (GET {TRIVIAL_PATH} -> 404): {trivial_rate:.0f} req/s")

        elapsed, p50, p99, errors = closed_loop(args, url, bodies, len(bodies))
        answered = time.perf_counter()
        cpu_answered = cpu_seconds(procs)
        idle = idle_share(ticks_before, machine_ticks())
        rate = args.n / elapsed
        print(f"receipts: {rate:.0f}/s, {errors} not accepted; waiting for them to be applied")

        wait_applied()
        drained = time.perf_counter() - answered
        cpu_drained = cpu_seconds(procs)
        time.sleep(STATS_LAG)
        per_commit = args.n / max(1, commits() - commits_before)

        # The open loop starts once the closed loop's receipts are applied.
        open_rate = args.open_load * len(bodies) / elapsed  # POSTs per second
        open_latencies: list[float] = []
        open_errors, open_achieved = 0, 0.0
        if open_bodies:
            open_s, open_latencies, open_errors = asyncio.run(
                open_loop(url, open_bodies, open_rate, args.timeout)
            )
            open_achieved = len(open_bodies) / open_s
            print(
                f"open loop: {open_rate:.0f} POST/s offered, {open_achieved:.0f}/s answered, "
                f"p99 {percentile(open_latencies, 99):.1f} ms"
            )
            wait_applied()
        pending, applied = counts()

    trivial_cpu = cpu_ms_per_request(cpu_start, cpu_trivial, args.trivial_n)
    # web and client: while posting; postgres and apply: until every receipt is applied.
    posting_cpu = cpu_ms_per_request(cpu_trivial, cpu_answered, args.n)
    receipt_cpu = cpu_ms_per_request(cpu_trivial, cpu_drained, args.n)
    receipt_cpu.update(web=posting_cpu["web"], client=posting_cpu["client"])

    lost = total - (pending + applied)
    server = f"gunicorn-{args.web_workers}x" + (
        f"gthread{args.threads}" if args.threads > 1 else "sync"
    )
    figures = [
        Figure(
            "receipts.rate",
            rate,
            "receipts/s",
            baseline=trivial_rate,
            target=2000,
            note=f"{server}, {args.concurrency} in flight, {args.per_request} per POST",
        ),
        Figure(
            "receipts.rate_vs_trivial",
            rate / trivial_rate,
            "x",
            target=0.6,
            note=f"trivial view: GET {TRIVIAL_PATH} (404 page)",
        ),
        Figure("receipts.p50", p50, "ms"),
        Figure(
            "receipts.p99",
            p99,
            "ms",
            baseline=trivial_p99,
            target=50,
            higher_is_better=False,
            note="baseline: the trivial view's p99",
        ),
        Figure(
            "receipts.p99_open",
            percentile(open_latencies, 99),
            "ms",
            note=f"open loop at {open_rate:.0f} POST/s offered ({args.open_load:g} x the rate"
            f" above), {open_achieved:.0f}/s answered, {len(open_bodies)} POSTs",
        ),
        Figure("receipts.p50_open", percentile(open_latencies, 50), "ms"),
        Figure(
            "receipts.errors", errors + open_errors, "answers", target=0, higher_is_better=False
        ),
        Figure(
            "receipts.lost",
            lost,
            "receipts",
            target=0,
            higher_is_better=False,
            note="N - (pending + applied)",
        ),
        Figure(
            "receipts.cpu_idle",
            100 * idle,
            "%",
            note="the machine's CPUs idle while posting: near 0 when the server is CPU-bound",
        ),
        Figure(
            "receipts.per_commit",
            per_commit,
            "receipts",
            note="receipts per transaction committed in the bench database from the"
            " trivial view to the receipts applied (applying's and this script's included)",
        ),
        Figure("receipts.apply_drain", drained, "s", note="last answer -> none pending"),
        Figure("trivial.rate", trivial_rate, "req/s", note=f"{trivial_errors} errors"),
        *(
            Figure(
                f"receipts.cpu_{part}",
                receipt_cpu[part],
                "ms/receipt",
                baseline=trivial_cpu[part] if part in ("web", "client") else None,
                note=note
                + (" (baseline: per trivial request)" if part in ("web", "client") else ""),
            )
            for part, note in (
                ("web", "gunicorn processes, while posting"),
                ("postgres", "bench db backends, until applied"),
                ("apply", "celery worker + beat, until applied"),
                ("client", f"the {args.client} client, while posting"),
            )
        ),
        Figure(
            "receipts.cpu_total",
            sum(receipt_cpu.values()),
            "ms/receipt",
            baseline=sum(trivial_cpu.values()),
            note="the four parts (baseline: per trivial request)",
        ),
    ]
    summary = {
        "bench": "receipts",
        "n": args.n,
        "receipts_per_s": f"{rate:.0f}",
        "p99_ms": f"{p99:.1f}",
        "p99_open_ms": f"{percentile(open_latencies, 99):.1f}",
        "open_rate": f"{open_rate:.0f}",
        "trivial_per_s": f"{trivial_rate:.0f}",
        "ratio": f"{rate / trivial_rate:.2f}",
        "lost": lost,
        "server": server,
        "per_request": args.per_request,
        "client": args.client,
        "health_checks": "off" if args.no_health_checks else "on",
        "cpu_ms_per_receipt": f"{sum(receipt_cpu.values()):.2f}",
        "cpu_ms_web": f"{receipt_cpu['web']:.2f}",
        "cpu_ms_web_trivial": f"{trivial_cpu['web']:.2f}",
        "idle_pct": f"{100 * idle:.0f}",
        "per_commit": f"{per_commit:.2f}",
    }
    return figures, summary


if __name__ == "__main__":
    main(run)
