"""A campaign end to end: N recipients scheduled through the real service, launched by
the real task, dispatched by real Celery workers through the SMS Works backend to the
simulator process, which posts a receipt for each to gunicorn (the receipt webhook at
MESSAGING_WEBHOOK_BASE_URL); the workers and beat apply them.

    .venv/bin/python bench/campaign.py [--n 100000]

msg/s         recipients / (last sent_at - the schedule call): schedule to all sent.
until final   from the schedule call until reports.campaign_counts() shows every
              message in a final status (delivered, undelivered, failed, suppressed).
report query  the time of campaign_counts() itself, polled every 0.5 s during the run.

The simulator delivers 95%, leaves 3% undelivered and fails 2% (its defaults), with
receipts 200-2000 ms after the send; 1 contact in 100 has opted out (suppressed).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import common
import httpx
from common import (
    Figure,
    Processes,
    bench_sender,
    fetch_one,
    free_port,
    percentile,
    sim_token,
    wait_until,
)
from launch import campaign_create, contacts_create, list_create, use_database, vacuum_analyze

DB_NAME = "smsworks_bench_campaign"
REDIS_URL = "redis://127.0.0.1:6379/12"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="contacts in the list")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the whole run")
    return parser.parse_args()


def run() -> tuple[list[Figure], dict[str, Any]]:
    args = parse_args()
    use_database(DB_NAME, REDIS_URL)
    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    common.setup(web_url=web_url)
    from django.contrib.auth.models import User

    from campaigns import reports, services

    contacts_create(args.n)
    the_list = list_create()
    vacuum_analyze("contacts_contact", "contacts_listmembership", "contacts_suppression")
    admin = User.objects.create_superuser("bench", "bench@example.com", "x" * 20)

    sim_flags = ["--keep", str(args.n + 10_000), "--receipt-delay-ms", "200", "2000"]
    with Processes() as procs:
        sim_url = procs.simulator(*sim_flags)
        procs.gunicorn(web_port, workers=args.web_workers, threads=args.threads)
        procs.worker(
            "worker",
            queues="transactional,bulk,default",
            concurrency=args.concurrency,
            web_url=web_url,
        )
        procs.beat(web_url=web_url)
        # A rate limit far above what the machine can do: the platform is what is measured.
        sender = bench_sender(base_url=sim_url, token=sim_token(sim_url), rate=1_000_000)
        campaign = campaign_create(sender=sender, the_list=the_list)

        started = time.time()
        services.campaign_schedule(campaign=campaign, by=admin)
        marks: dict[str, float] = {}
        query_ms: list[float] = []

        def every_status_final() -> bool:
            polled = time.perf_counter()
            counts = reports.campaign_counts(campaign.pk)
            query_ms.append((time.perf_counter() - polled) * 1000)
            now = time.time() - started
            if counts.total >= args.n:
                marks.setdefault("launched", now)
                if counts.queued + counts.sending == 0:
                    marks.setdefault("all_sent", now)
            if len(query_ms) % 20 == 0:
                print(
                    f"  t={now:6.1f}s queued={counts.queued} sending={counts.sending} "
                    f"awaiting={counts.awaiting_receipt} delivered={counts.delivered} "
                    f"undelivered={counts.undelivered} failed={counts.failed} "
                    f"suppressed={counts.suppressed}"
                )
            return counts.total >= args.n and counts.all_final

        wait_until(
            every_status_final,
            timeout=args.timeout,
            interval=0.5,
            what="every message in a final status",
            procs=procs,
        )
        final_seconds = time.time() - started
        stats = httpx.get(f"{sim_url}/_sim/stats", timeout=10).json()

    counts = reports.campaign_counts(campaign.pk)
    campaign.refresh_from_db()
    first_sent, last_sent, launched_at = fetch_one(
        "SELECT extract(epoch FROM min(sent_at)), extract(epoch FROM max(sent_at)), "
        "extract(epoch FROM (SELECT launched_at FROM campaigns_campaign WHERE id = %s)) "
        "FROM messaging_message WHERE campaign_id = %s",
        [campaign.pk, campaign.pk],
    )
    sent = counts.sent + counts.failed  # every message handed to the provider
    send_seconds = float(last_sent) - started
    rate = sent / send_seconds
    print(
        f"campaign {campaign.status}: {counts.recipients} recipients, {counts.suppressed} "
        f"suppressed; delivered {counts.delivered}, undelivered {counts.undelivered}, "
        f"failed {counts.failed}; simulator accepted {stats['accepted']} "
        f"({stats['duplicates']} twice)"
    )
    if stats["duplicates"] or counts.total != args.n:
        raise RuntimeError(f"{stats['duplicates']} sent twice; {counts.total} rows of {args.n}")
    figures = [
        Figure(
            "campaign.msg_per_s",
            rate,
            "msg/s",
            note="schedule -> last sent_at, merge fields and a short link per message",
        ),
        Figure(
            "campaign.until_all_final",
            final_seconds,
            "s",
            higher_is_better=False,
            note="schedule -> campaign_counts() shows every status final (0.5 s polling)",
        ),
        Figure(
            "campaign.launch_at", float(launched_at) - started, "s", note="schedule -> launched_at"
        ),
        Figure("campaign.first_sent_at", float(first_sent) - started, "s"),
        Figure("campaign.all_sent_at", send_seconds, "s"),
        Figure("campaign.report_query_p50", percentile(query_ms, 50), "ms", higher_is_better=False),
        Figure(
            "campaign.report_query_p95",
            percentile(query_ms, 95),
            "ms",
            higher_is_better=False,
            note="campaign_counts() during the run",
        ),
    ]
    summary = {
        "bench": "campaign",
        "n": args.n,
        "msg_per_s": f"{rate:.0f}",
        "until_all_final_s": f"{final_seconds:.1f}",
        "delivered": counts.delivered,
        "accepted": stats["accepted"],
        "duplicates": stats["duplicates"],
    }
    return figures, summary


def main() -> None:
    common.stop_on_signals()
    try:
        figures, summary = run()
    except KeyboardInterrupt:
        print("interrupted: every process this run started was stopped")
        raise SystemExit(130) from None
    common.report(figures, summary)
    rate, final = figures[0], figures[1]
    print(
        f"FIGURE campaign.msg_per_s={rate.value:.1f} unit=msg/s baseline=- ratio=- target=- "
        f"until_all_final_s={final.value:.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
