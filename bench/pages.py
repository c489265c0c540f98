"""Page server time at scale: the campaign report (and its parts) and the campaign
list with a 1,000,000-message campaign in the database, through Django's test Client
in this process (the whole middleware stack, the view, the templates; no network).

    .venv/bin/python bench/pages.py [--n 1000000] [--requests 50] [--contacts-only]

Data (set-based, in a database of its own): N contacts, one completed campaign to all
of them (about 90% delivered, the rest failed, undelivered, awaiting a receipt or
suppressed, spread over an hour), clicks from 4% of them, replies from 0.5%, opt-outs
from 0.3%, and 29 smaller campaigns of 2,000 messages each. VACUUM ANALYZE after
loading, as autovacuum would have done on a settled table. --proposed-index adds the
index this module's report asks messaging for (see campaigns/reports.py).

The N contacts also serve the contacts pages: the list, a search by name and by
number, and a segment's page with its live count, never cached (#4: p95 < 100 ms at
1M contacts); --contacts-only builds only the contacts and times only those pages.
The inbox gets --conversations conversations (default 100,000) and --inbox-messages
messages (default 5,000,000) from inbox.benchdata: the folder lists, a thread and a
search (#6: p95 < 100 ms); then --inbound texts are POSTed to the inbound webhook one
at a time with a real Celery worker handling them, each timed until its conversation
shows it (#6: "an inbound webhook to visible-in-inbox time"; no target given, under
a second is what a person watching the inbox expects).

Each page is requested 3 times to warm up, then `--requests` times; the figures are
p50 and p95 of those. Targets: p95 < 100 ms for the report, the campaign list, the
contacts pages and the inbox pages. A page whose URL is not wired yet is reported as
skipped.

A campaign this large shares its report figures between viewers for a moment
(campaigns.reports.campaign_snapshot: 30 s once done, 2 s while sending), and the
chart and the dashboard cache theirs too; the *_uncached figures evict those caches
before every request, so they show what a miss costs, and the query.* figures time
the report's queries alone.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import common
from common import Figure, bench_sender, fetch_one, percentile
from launch import campaign_create, contacts_create, execute, list_create, use_database

DB_NAME = "smsworks_bench_pages"
REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('BENCH_REDIS_DB', '14')}"
SMALL_CAMPAIGNS = 29
SMALL_SIZE = 2000
TARGET_MS = 100.0
MESSAGE_COLUMNS = """
    uuid, direction, account_id, sender_id, from_number, to_number, contact_id,
    campaign_id, body, encoding, segments, status, priority, send_after, attempts,
    provider_message_id, provider_response, error_code, error_reason, cost,
    created_at, queued_at, suppressed_at, sent_at, delivered_at, undelivered_at,
    failed_at, received_at, compliance, merge, held
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="messages in the campaign")
    parser.add_argument("--requests", type=int, default=50, help="measured requests per page")
    parser.add_argument(
        "--conversations", type=int, default=100_000, help="inbox conversations (0: no inbox)"
    )
    parser.add_argument(
        "--inbox-messages", type=int, default=5_000_000, help="messages in those conversations"
    )
    parser.add_argument("--inbound", type=int, default=20, help="inbound texts timed to the inbox")
    parser.add_argument(
        "--contacts-only",
        action="store_true",
        help="only the contacts (on one list) and the contacts and segment pages: no campaigns,"
        " no inbox, no report queries (minutes instead of most of an hour at 1M)",
    )
    return parser.parse_args()


def campaign_messages_insert(campaign, sender, launched, *, n: int) -> None:
    """One message to each of the first n contacts, with final statuses, times and
    errors, sent over an hour."""
    execute(
        f"""
        INSERT INTO messaging_message ({MESSAGE_COLUMNS})
        SELECT gen_random_uuid(), 'out', %(account)s, %(sender)s, %(number)s, c.phone, c.id,
            %(campaign)s, 'Hi ' || c.first_name || ', our spring sale starts today: '
                || 'https://sms.example.com/l/' || c.id, 'GSM-7', 1, s.status, 'bulk',
            %(launched)s, 1, CASE WHEN s.status <> 'suppressed' THEN gen_random_uuid()::text
                ELSE '' END, '{{}}',
            CASE WHEN s.status IN ('failed', 'undelivered')
                THEN (ARRAY['EC_ABSENT', 'EC_BARRED', 'invalid_number'])[1 + c.id %% 3]
                ELSE '' END,
            CASE WHEN s.status IN ('failed', 'undelivered')
                THEN (ARRAY['Phone switched off', 'Barred by the network',
                            'Not a mobile number'])[1 + c.id %% 3]
                WHEN s.status = 'suppressed' THEN 'The recipient opted out.' ELSE '' END,
            CASE WHEN s.status <> 'suppressed' THEN 0.04 END,
            %(launched)s, %(launched)s,
            CASE WHEN s.status = 'suppressed' THEN %(launched)s END,
            CASE WHEN s.status IN ('sent', 'delivered', 'undelivered') THEN s.at END,
            CASE WHEN s.status = 'delivered' THEN s.at + (5 + c.id %% 60) * interval '1 second' END,
            CASE WHEN s.status = 'undelivered' THEN s.at + interval '2 minutes' END,
            CASE WHEN s.status = 'failed' THEN s.at END,
            NULL, FALSE, FALSE, FALSE
        FROM contacts_contact c
        CROSS JOIN LATERAL (SELECT
            CASE WHEN c.id %% 100 = 0 THEN 'suppressed'
                 WHEN c.id %% 100 < 4 THEN 'failed'
                 WHEN c.id %% 100 < 8 THEN 'undelivered'
                 WHEN c.id %% 100 < 10 THEN 'sent'
                 ELSE 'delivered' END AS status,
            %(launched)s + (c.id::float / %(n)s) * interval '60 minutes' AS at) s
        WHERE c.id <= %(n)s
        """,  # noqa: S608 - the column list is a constant
        {
            "account": sender.account_id,
            "sender": sender.pk,
            "number": sender.value,
            "campaign": campaign.pk,
            "launched": launched,
            "n": n,
        },
    )


def engagement_insert(campaign, sender, launched) -> None:
    link_id = campaign.links.get().pk
    execute(
        """
        INSERT INTO campaigns_click (message_id, campaign_id, link_id, contact_id, clicked_at,
            user_agent)
        SELECT m.id, m.campaign_id, %(link)s, m.contact_id, m.delivered_at + interval '3 minutes',
            'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148'
        FROM messaging_message m, generate_series(1, 2) AS k
        WHERE m.campaign_id = %(campaign)s AND m.status = 'delivered' AND m.contact_id %% 25 = 0
          AND (k = 1 OR m.contact_id %% 75 = 0)
        """,
        {"link": link_id, "campaign": campaign.pk},
    )
    execute(
        f"""
        INSERT INTO messaging_message ({MESSAGE_COLUMNS})
        SELECT gen_random_uuid(), 'in', %(account)s, %(sender)s, c.phone, %(number)s, c.id,
            NULL, 'Is the sale on in store too?', 'GSM-7', 1, 'received', 'bulk',
            %(at)s, 0, 'in-' || c.id, '{{}}', '', '', NULL, %(at)s, NULL, NULL, NULL, NULL,
            NULL, NULL, %(at)s, FALSE, FALSE, FALSE
        FROM contacts_contact c WHERE c.id %% 200 = 1
        """,  # noqa: S608 - the column list is a constant
        {
            "account": sender.account_id,
            "sender": sender.pk,
            "number": sender.value,
            "at": launched + _minutes(20),
        },
    )
    execute(
        """
        INSERT INTO contacts_consentevent (phone, contact_id, kind, source, keyword, text,
            message_id, note, created_at)
        SELECT c.phone, c.id, 'opt_out', 'keyword', 'STOP', 'STOP', NULL, '', %(at)s
        FROM contacts_contact c WHERE c.id %% 333 = 2
        """,
        {"at": launched + _minutes(25)},
    )


def _minutes(n: int):
    from datetime import timedelta

    return timedelta(minutes=n)


def contacts_build(n: int) -> None:
    """Only what the contacts and segment pages read: N contacts on one list."""
    started = time.perf_counter()
    contacts_create(n)
    list_create()
    for table in ("contacts_contact", "contacts_listmembership", "contacts_suppression"):
        execute(f"VACUUM ANALYZE {table}")
    print(f"data: {n} contacts in {time.perf_counter() - started:.1f} s")


def build(n: int):
    from django.utils import timezone

    from campaigns.models import Campaign

    started = time.perf_counter()
    contacts_create(n)
    the_list = list_create()
    sender = bench_sender(base_url="http://127.0.0.1:9", token="", rate=1000)
    launched = timezone.now().replace(microsecond=0) - _minutes(120)
    done = {"status": Campaign.Status.COMPLETED, "launched_at": launched}
    small = []
    for i in range(SMALL_CAMPAIGNS):
        campaign = campaign_create(
            sender=sender, the_list=the_list, name=f"Weekly news {i + 1}", **done
        )
        campaign_messages_insert(
            campaign, sender, launched - _minutes(60 * 24 * (i + 1)), n=min(n, SMALL_SIZE)
        )
        small.append(campaign)
    big = campaign_create(sender=sender, the_list=the_list, name="Spring sale", **done)
    campaign_messages_insert(big, sender, launched, n=n)
    engagement_insert(big, sender, launched)
    Campaign.objects.filter(pk=big.pk).update(recipients=n - n // 100, suppressed=n // 100)
    for table in (
        "messaging_message",
        "contacts_contact",
        "contacts_listmembership",
        "contacts_consentevent",
        "campaigns_click",
        "campaigns_campaign",
    ):
        execute(f"VACUUM ANALYZE {table}")
    print(
        f"data: {n} contacts, {n + SMALL_CAMPAIGNS * SMALL_SIZE} campaign messages "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return big


def timed(call, repeat: int) -> list[float]:
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(
    client, url: str, requests: int, expected: int = 200, before: Any = None
) -> list[float]:
    """Server times in ms; `before` runs ahead of each request, outside the timing."""
    for _ in range(3):
        response = client.get(url)
        if response.status_code != expected:
            raise RuntimeError(f"GET {url}: {response.status_code}")
    times = []
    for _ in range(requests):
        if before:
            before()
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    return times


def run() -> tuple[list[Figure], dict[str, Any]]:
    args = parse_args()
    use_database(DB_NAME, REDIS_URL)
    common.setup(web_url="http://127.0.0.1:9")
    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from messaging.merge import link_code

    if args.contacts_only:
        big = None
        contacts_build(args.n)
    else:
        big = build(args.n)
    segment = segment_create()
    inbox_pages: list = []
    if args.conversations and not args.contacts_only:
        inbox_pages = inbox_build(args.conversations, args.inbox_messages)
    admin = User.objects.create_superuser("bench", "bench@example.com", "x" * 20)
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)

    from django.core.cache import cache

    from campaigns import reports

    def evict() -> None:
        cache.delete(reports.snapshot_key(big.pk))
        cache.delete(f"campaigns:timeline:{big.pk}")

    def evict_rates() -> None:
        cache.delete(f"campaigns:rates:{big.pk}")

    report_pk = big.pk if big is not None else 0  # --contacts-only: those pages are left out
    # (figure, URL name, args, query, judged against the target, run before each request)
    pages = [
        ("report", "campaigns:report", [report_pk], "", True, None),
        ("report_uncached", "campaigns:report", [report_pk], "", False, evict),
        ("campaign_list", "campaigns:list", [], "", True, None),
        ("campaign_list_uncached", "campaigns:list", [], "", False, evict_rates),
        ("report_live", "campaigns:report_live", [report_pk], "", False, None),
        ("report_live_uncached", "campaigns:report_live", [report_pk], "", False, evict),
        ("report_timeline", "campaigns:report_timeline", [report_pk], "", False, None),
        ("report_timeline_uncached", "campaigns:report_timeline", [report_pk], "", False, evict),
        ("report_recipients", "campaigns:report_recipients", [report_pk], "", False, None),
        (
            "report_recipients_failed",
            "campaigns:report_recipients",
            [report_pk],
            "?status=failed",
            False,
            None,
        ),
        ("dashboard", "dashboard", [], "", False, None),
        ("dashboard_uncached", "dashboard", [], "", False, cache.clear),
        ("contacts_list", "contacts:list", [], "", True, None),
        ("contacts_search_name", "contacts:list", [], "?q=Sophie", True, None),
        ("contacts_search_number", "contacts:list", [], "?q=07700123456", True, None),
        ("segment_count", "contacts:segment_detail", [segment.pk], "", True, cache.clear),
        *inbox_pages,
    ]
    if args.contacts_only:
        pages = [page for page in pages if page[0].startswith(("contacts_", "segment_"))]
    figures: list[Figure] = []
    summary: dict[str, Any] = {
        "bench": "pages",
        "n": args.n,
        "requests": args.requests,
        "conversations": 0 if args.contacts_only else args.conversations,
        "inbox_messages": args.inbox_messages
        if args.conversations and not args.contacts_only
        else 0,
    }
    for name, url_name, url_args, query, judged, before in pages:
        try:
            url = reverse(url_name, args=url_args) + query
        except NoReverseMatch:
            print(f"{name}: skipped, {url_name} is not wired yet")
            summary[f"{name}_p95_ms"] = "skipped"
            continue
        times = measure(client, url, args.requests, before=before)
        p50, p95 = percentile(times, 50), percentile(times, 95)
        print(f"{name:26} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {max(times):7.1f} ms  {url}")
        figures.append(
            Figure(
                f"pages.{name}.p95",
                p95,
                "ms",
                target=TARGET_MS if judged else None,
                higher_is_better=False,
                note=f"p50 {p50:.1f} ms",
            )
        )
        summary[f"{name}_p95_ms"] = f"{p95:.1f}"
    if args.contacts_only:
        summary["contacts_only"] = "yes"
        return figures, summary
    # The report's queries on their own.
    for name, query in [
        ("campaign_counts", lambda: reports.campaign_counts(big.pk)),
        ("engagement", lambda: reports.engagement(big)),
        ("failure_reasons", lambda: reports.failure_reasons(big.pk)),
        ("delivery_timeline", lambda: reports.delivery_timeline(big.pk)),
    ]:
        times = timed(query, 10)
        p50 = percentile(times, 50)
        print(f"query {name:20} p50 {p50:7.1f} ms  max {max(times):7.1f} ms")
        figures.append(Figure(f"pages.query.{name}.p50", p50, "ms", higher_is_better=False))
        summary[f"{name}_p50_ms"] = f"{p50:.1f}"
    # Last, as it adds clicks: the public short-link redirect (resolve, click, 302).
    message_id = fetch_one(
        "SELECT id FROM messaging_message WHERE campaign_id = %s ORDER BY id LIMIT 1", [big.pk]
    )[0]
    times = measure(
        Client(HTTP_HOST="localhost"), f"/l/{link_code(message_id, 1)}", args.requests, 302
    )
    p50, p95 = percentile(times, 50), percentile(times, 95)
    print(f"{'short_link':26} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {max(times):7.1f} ms")
    figures.append(
        Figure("pages.short_link.p95", p95, "ms", higher_is_better=False, note=f"p50 {p50:.1f} ms")
    )
    summary["short_link_p95_ms"] = f"{p95:.1f}"
    if args.conversations and args.inbound:
        times = inbound_to_inbox(args.inbound)
        p50, p95 = percentile(times, 50), percentile(times, 95)
        print(
            f"{'inbound_to_inbox':26} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {max(times):7.1f} ms"
        )
        figures.append(
            Figure(
                "pages.inbound_to_inbox.p95",
                p95,
                "ms",
                higher_is_better=False,
                note=f"p50 {p50:.1f} ms, webhook POST to conversation updated, real worker",
            )
        )
        summary["inbound_to_inbox_p95_ms"] = f"{p95:.1f}"
    return figures, summary


def segment_create():
    """A saved segment over the 1M contacts: two rules, compiled to one query."""
    from contacts.models import Segment

    return Segment.objects.create(
        name="GB contacts named Sophie or Ada",
        match="any",
        rules=[
            {"field": "first_name", "op": "equals", "value": "Sophie"},
            {"field": "first_name", "op": "equals", "value": "Ada"},
        ],
    )


def inbox_build(conversations: int, messages: int) -> list:
    """Seed the inbox (set-based) and return its pages for the table in run()."""
    from django.contrib.auth.models import User

    from inbox import benchdata
    from inbox.models import Conversation
    from messaging.models import Sender

    started = time.perf_counter()
    agents = [User.objects.create_user(f"agent{i}", password="x" * 20).pk for i in range(4)]
    benchdata.seed(
        sender=Sender.objects.get(), users=agents, conversations=conversations, messages=messages
    )
    # The campaign copies in the inbox belong to the campaigns: their recipient counts
    # say so, as a launch would have written them.
    execute(
        """
        UPDATE campaigns_campaign AS c SET recipients = m.n - c.suppressed
        FROM (SELECT campaign_id, count(*) AS n FROM messaging_message
              WHERE campaign_id IS NOT NULL GROUP BY campaign_id) AS m
        WHERE m.campaign_id = c.id
        """
    )
    for table in ("inbox_conversation", "messaging_message", "campaigns_campaign"):
        execute(f"VACUUM ANALYZE {table}")
    print(
        f"inbox: {conversations} conversations, {messages} messages "
        f"in {time.perf_counter() - started:.1f} s"
    )
    busiest = Conversation.objects.filter(status="open").order_by("-last_message_at").first()
    return [
        ("inbox_unassigned", "inbox:list", [], "?folder=unassigned", True, None),
        ("inbox_all_open", "inbox:list", [], "?folder=all", True, None),
        ("inbox_closed", "inbox:list", [], "?folder=closed", True, None),
        ("inbox_thread", "inbox:conversation", [busiest.pk], "", True, None),
        ("inbox_search", "inbox:list", [], "?folder=all&q=refund", True, None),
    ]


def inbound_to_inbox(count: int) -> list[float]:
    """POST SMS Works inbound texts to the webhook (this process, the whole stack) with
    a real worker running the inbox handler; time each until its conversation shows it."""
    import json

    from django.test import Client
    from django.urls import reverse

    from inbox.models import Conversation
    from messaging.models import Sender

    sender = Sender.objects.get()
    account = sender.account
    url = reverse("messaging:webhook_inbound", args=[account.public_id])
    url += f"?token={account.webhook_secret}"
    client = Client(HTTP_HOST="localhost")
    times = []
    with common.Processes() as processes:
        processes.worker(
            "worker", queues="transactional,default", concurrency=2, web_url="http://127.0.0.1:9"
        )
        for i in range(count + 2):  # the first two warm the worker up, untimed
            number = f"+4479{90000000 + i:08d}"
            body = json.dumps(
                {
                    "messageid": f"bench-inbound-{i}",
                    "sender": number.lstrip("+"),
                    "destination": sender.value.lstrip("+"),
                    "content": f"Is my order {i} on its way?",
                    "status": "INCOMING",
                }
            )
            started = time.perf_counter()
            response = client.post(url, body, content_type="application/json")
            if response.status_code != 200:
                raise RuntimeError(f"inbound webhook: {response.status_code} {response.content!r}")
            common.wait_until(
                lambda number=number: Conversation.objects.filter(
                    contact_number=number, inbound_count__gte=1
                ).exists(),
                timeout=60,
                what=f"text {i} in the inbox",
                interval=0.005,
            )
            if i >= 2:
                times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    common.stop_on_signals()
    try:
        figures, summary = run()
    except KeyboardInterrupt:
        print("interrupted")
        raise SystemExit(130) from None
    common.report(figures, summary)
    report = figures[0]
    print(
        f"FIGURE {report.name}={report.value:.1f} unit=ms baseline=- ratio=- "
        f"target=<={TARGET_MS:.0f} met={'yes' if report.met else 'no'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
