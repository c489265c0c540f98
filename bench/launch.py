"""Campaign launch: a list of N contacts becomes N outbox rows through the real task
(`campaigns.launch` in a real Celery worker process), against a dedicated database.

    .venv/bin/python bench/launch.py [--n 1000000]

seconds     from the task being sent to the campaign showing as sending (the launch's
            own time, from the worker's "succeeded in" log line, is printed too).
peak memory the largest VmHWM of the worker's pool processes (/proc/<pid>/status).
baseline    in the same run and the same table: the campaign's rows deleted (then
            VACUUM), and the same rows written again by a bare INSERT ... SELECT from
            the list (no audience query, no suppression check, no ON CONFLICT).
Targets: launch / bare INSERT <= 1.5; peak memory < 300 MB.

Contacts are made set-based (generate_series); 1 in 100 has opted out, so the launch
also writes suppressed rows. The helpers here (contacts, list, campaign) are reused by
bench/campaign.py and bench/pages.py.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

import common
from common import LOGS, Figure, Processes, bench_sender, fetch_one, wait_until

DB_NAME = "smsworks_bench_launch"
REDIS_URL = "redis://127.0.0.1:6379/11"
BODY = "Hi {{ first_name | there }}, our spring sale starts today: https://shop.example.com/spring"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="contacts in the list")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the launch")
    return parser.parse_args()


# --- helpers shared with bench/campaign.py and bench/pages.py --------------------------
def use_database(name: str, redis_url: str) -> None:
    """Point bench.common (and every child process it starts) at a database and a Redis
    db of our own, so that this benchmark never drops another one's data or queues."""
    common.REDIS_URL = common.BASE_ENV["REDIS_URL"] = redis_url
    common.DB_NAME = name
    common.DATABASE_URL = (
        f"postgres://{common.PG['user']}@{common.PG['host']}:{common.PG['port']}/{name}"
    )
    common.BASE_ENV["DATABASE_URL"] = common.DATABASE_URL


def execute(sql: str, params: Any = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def contacts_create(n: int, *, opted_out_every: int = 100) -> None:
    """N contacts in one statement: UK mobile numbers, names, one in `opted_out_every`
    opted out (with its suppression row, as contacts.services writes them)."""
    execute(
        """
        INSERT INTO contacts_contact (phone, first_name, last_name, email, custom, time_zone,
            country, source, opted_out, opted_out_at, created_at, updated_at)
        SELECT '+4477' || lpad(g::text, 8, '0'),
               (ARRAY['Ada','Alan','Grace','Tim','Karen','Sophie','Radia','Linus',''])[1 + g %% 9],
               'Example', '', '{}'::jsonb, 'Europe/London', 'GB', 'import',
               g %% %(every)s = 0, CASE WHEN g %% %(every)s = 0 THEN now() END, now(), now()
        FROM generate_series(1, %(n)s) AS g
        """,
        {"n": n, "every": opted_out_every},
    )
    execute(
        """
        INSERT INTO contacts_suppression (phone, contact_id, source, created_at)
        SELECT phone, id, 'keyword', now() FROM contacts_contact WHERE opted_out
        """
    )


def list_create(name: str = "Everyone"):
    """A list holding every contact (one INSERT ... SELECT)."""
    from contacts.models import ContactList

    the_list = ContactList.objects.create(name=name)
    execute(
        """
        INSERT INTO contacts_listmembership (contact_list_id, contact_id, added_at)
        SELECT %s, id, now() FROM contacts_contact
        """,
        [the_list.pk],
    )
    return the_list


def campaign_create(*, sender, the_list, name: str = "Spring sale", **fields):
    from campaigns.launch import links_save
    from campaigns.models import Campaign

    campaign = Campaign.objects.create(
        name=name,
        sender=sender,
        body=BODY,
        utm="utm_source=sms&utm_campaign=spring",
        respect_quiet_hours=False,
        **fields,
    )
    campaign.lists.set([the_list])
    links_save(campaign)
    return campaign


def vacuum_analyze(*tables: str) -> None:
    for table in tables:
        execute(f"VACUUM ANALYZE {table}")


# --- the worker's memory ---------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _kib(pid: int, field: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def pool_peak_mb(main_pid: int) -> tuple[float, float]:
    """(largest VmHWM of the worker's pool processes, the main process's VmHWM), in MB."""
    pool = _children(main_pid)
    peak = max((_kib(pid, "VmHWM") for pid in pool), default=0)
    return peak / 1024, _kib(main_pid, "VmHWM") / 1024


# --- the benchmark ---------------------------------------------------------------------
def bare_insert(campaign_id: int, sender, list_id: int) -> float:
    """The same rows, written by the plainest INSERT ... SELECT: seconds."""
    from django.db import transaction

    sql = """
        INSERT INTO messaging_message (
            uuid, direction, account_id, sender_id, from_number, to_number, contact_id,
            campaign_id, body, encoding, segments, status, priority, send_after, attempts,
            provider_message_id, provider_response, error_code, error_reason, cost,
            created_at, queued_at, suppressed_at, compliance, merge, held
        )
        SELECT gen_random_uuid(), 'out', %(account)s, %(sender)s, %(number)s, c.phone, c.id,
            %(campaign)s, %(body)s, 'GSM-7', 1,
            CASE WHEN c.opted_out THEN 'suppressed' ELSE 'queued' END,
            'bulk', now(), 0, '', '{}', '',
            CASE WHEN c.opted_out THEN 'The recipient opted out.' ELSE '' END,
            NULL, now(), now(), CASE WHEN c.opted_out THEN now() END, FALSE, TRUE, FALSE
        FROM contacts_listmembership m JOIN contacts_contact c ON c.id = m.contact_id
        WHERE m.contact_list_id = %(list)s
    """
    params = {
        "account": sender.account_id,
        "sender": sender.pk,
        "number": sender.value,
        "campaign": campaign_id,
        "body": BODY,
        "list": list_id,
    }
    started = time.perf_counter()
    with transaction.atomic():
        execute(sql, params)
    return time.perf_counter() - started


def _task_seconds() -> float | None:
    log = (LOGS / "worker.log").read_text(errors="replace")
    found = re.findall(r"Task campaigns\.launch\[[^\]]+\] succeeded in ([\d.]+)s", log)
    return float(found[-1]) if found else None


def run() -> tuple[list[Figure], dict[str, Any]]:
    args = parse_args()
    use_database(DB_NAME, REDIS_URL)
    common.setup(web_url="http://127.0.0.1:9")  # nothing is sent: no web server needed
    from django.utils import timezone

    from campaigns import tasks
    from campaigns.models import Campaign

    started = time.perf_counter()
    contacts_create(args.n)
    the_list = list_create()
    vacuum_analyze("contacts_contact", "contacts_listmembership", "contacts_suppression")
    print(f"{args.n} contacts and their list made in {time.perf_counter() - started:.1f} s")
    # No provider: the kick that follows a launch waits in the (unconsumed) bulk queue.
    sender = bench_sender(base_url="http://127.0.0.1:9", token="", rate=1000)
    campaign = campaign_create(
        sender=sender,
        the_list=the_list,
        status=Campaign.Status.SCHEDULED,
        scheduled_at=timezone.now(),
    )

    with Processes() as procs:
        # Only the default queue, with one pool process: the launch runs alone.
        procs.worker("worker", queues="default", concurrency=1, web_url="http://127.0.0.1:9")
        worker_pid = procs.running[-1][1].pid
        sent = time.perf_counter()
        tasks.launch.delay(campaign.pk)
        wait_until(
            lambda: Campaign.objects.filter(pk=campaign.pk, status="sending").exists(),
            timeout=args.timeout,
            interval=0.1,
            what="the campaign to launch",
            procs=procs,
        )
        launch_seconds = time.perf_counter() - sent
        time.sleep(1)  # the log line follows the commit
        task_seconds = _task_seconds()
        pool_mb, main_mb = pool_peak_mb(worker_pid)

    campaign.refresh_from_db()
    rows, suppressed = fetch_one(
        "SELECT count(*), count(*) FILTER (WHERE status = 'suppressed') "
        "FROM messaging_message WHERE campaign_id = %s",
        [campaign.pk],
    )
    print(
        f"launch: {rows} rows ({suppressed} suppressed) in {launch_seconds:.2f} s "
        f"(task: {task_seconds} s); worker pool peak {pool_mb:.0f} MB, main {main_mb:.0f} MB"
    )
    if rows != args.n or campaign.recipients + campaign.suppressed != args.n:
        raise RuntimeError(f"the launch wrote {rows} rows for {args.n} contacts")

    execute("DELETE FROM messaging_message WHERE campaign_id = %s", [campaign.pk])
    vacuum_analyze("messaging_message")
    bare_seconds = bare_insert(campaign.pk, sender, the_list.pk)
    (bare_rows,) = fetch_one(
        "SELECT count(*) FROM messaging_message WHERE campaign_id = %s", [campaign.pk]
    )
    print(f"bare INSERT ... SELECT: {bare_rows} rows in {bare_seconds:.2f} s")

    ratio = launch_seconds / bare_seconds
    figures = [
        Figure(
            "launch.seconds",
            launch_seconds,
            "s",
            baseline=bare_seconds,
            note="task sent -> campaign sending; baseline: bare INSERT ... SELECT",
        ),
        Figure(
            "launch.ratio_to_bare_insert",
            ratio,
            "x",
            target=1.5,
            higher_is_better=False,
        ),
        Figure(
            "launch.peak_memory",
            pool_mb,
            "MB",
            target=300,
            higher_is_better=False,
            note="VmHWM of the worker's pool process",
        ),
        Figure("launch.rows_per_s", args.n / launch_seconds, "rows/s"),
        Figure("launch.task_seconds", task_seconds or 0.0, "s", note="worker log"),
    ]
    summary = {
        "bench": "launch",
        "n": args.n,
        "seconds": f"{launch_seconds:.2f}",
        "bare_insert_seconds": f"{bare_seconds:.2f}",
        "ratio": f"{ratio:.2f}",
        "peak_mb": f"{pool_mb:.0f}",
    }
    return figures, summary


def main() -> None:
    """bench.common's report, then the headline figure once more as the last line."""
    common.stop_on_signals()
    try:
        figures, summary = run()
    except KeyboardInterrupt:
        print("interrupted: every process this run started was stopped")
        raise SystemExit(130) from None
    common.report(figures, summary)
    seconds, ratio = figures[0], figures[1]
    print(
        f"FIGURE launch.seconds={seconds.value:.2f} unit=s baseline={seconds.baseline:.2f} "
        f"ratio={ratio.value:.2f} target=ratio<=1.5 met={'yes' if ratio.met else 'no'} "
        f"peak_mb={figures[2].value:.0f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
