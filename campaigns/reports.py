"""Campaign reports: every figure is an aggregate query, none counts rows in Python.

The status counts are one grouped query over the campaign's messages
(WHERE campaign_id = X GROUP BY status), served by message_campaign_status_idx;
replies and opt-outs walk only what happened since the launch and check each against
the (campaign_id, contact_id) unique index; clicks use click_by_campaign_idx.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Exists, Min, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncMinute
from django.utils import timezone

from campaigns.models import Campaign, CampaignLink, Click
from contacts.exports import neutralise
from contacts.models import ConsentEvent
from messaging.models import Direction, Message, Sender, Status

LIVE_STATUSES = (Campaign.Status.LAUNCHING, Campaign.Status.SENDING, Campaign.Status.PAUSED)
FAILURE_STATUSES = (Status.FAILED, Status.UNDELIVERED, Status.EXPIRED)
# A delivery chart keeps at most this many points: long campaigns get wider buckets.
MAX_CHART_POINTS = 240
BUCKET_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 240, 360, 720, 1440)
DASHBOARD_CACHE_SECONDS = 30
# Campaigns of at least this many messages share report snapshots (campaign_snapshot).
SNAPSHOT_MIN_MESSAGES = 100_000
# The campaign list counts a whole page of campaigns at once: from this size on a
# campaign's counts are shared there (ten thousand rows cost a few milliseconds, and a
# page holds twenty campaigns).
LIST_SHARE_MIN_MESSAGES = 10_000
SNAPSHOT_SECONDS_LIVE = 2
SNAPSHOT_SECONDS_DONE = 30
# Dashboard totals read messages created at most this long before the period began
# (a message is sent within hours of its launch), so the created_at index bounds them.
SEND_WINDOW = timedelta(days=7)
# A campaign is complete once nothing is queued or in flight, but receipts for what
# it sent keep coming (seconds to hours later): its report stays live this long after.
RECEIPT_WATCH = timedelta(hours=24)


def rate(part: int, whole: int) -> float | None:
    """part / whole as a percentage, or None when there is nothing to divide by."""
    return 100.0 * part / whole if whole else None


def _of(*statuses: str) -> property:
    """A count of messages in any of these statuses."""
    return property(lambda self: sum(self.by_status.get(s, 0) for s in statuses))


@dataclass(frozen=True)
class CampaignCounts:
    by_status: Mapping[str, int] = field(default_factory=dict)
    cost: Decimal = Decimal(0)

    suppressed = _of(Status.SUPPRESSED)
    queued = _of(Status.QUEUED)
    sending = _of(Status.SENDING)
    awaiting_receipt = _of(Status.SENT)
    delivered = _of(Status.DELIVERED)
    undelivered = _of(Status.UNDELIVERED)
    failed = _of(Status.FAILED)
    cancelled = _of(Status.CANCELLED)
    expired = _of(Status.EXPIRED)
    # Accepted by the provider: awaiting a receipt, delivered or undelivered.
    sent = _of(Status.SENT, Status.DELIVERED, Status.UNDELIVERED)
    # Not in a final status yet.
    pending = _of(Status.QUEUED, Status.SENDING, Status.SENT)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def recipients(self) -> int:
        return self.total - self.suppressed

    @property
    def all_final(self) -> bool:
        return self.total > 0 and self.pending == 0

    @property
    def delivered_rate(self) -> float | None:
        return rate(self.delivered, self.sent)


def _counts(rows: Iterable[tuple[str, int, Decimal | None]]) -> CampaignCounts:
    by_status: dict[str, int] = {}
    cost = Decimal(0)
    for status, n, status_cost in rows:
        by_status[status] = n
        cost += status_cost or 0
    return CampaignCounts(by_status=by_status, cost=cost)


def campaign_counts(campaign_id: int) -> CampaignCounts:
    """One grouped query: WHERE campaign_id = X GROUP BY status."""
    rows = (
        Message.objects.filter(campaign_id=campaign_id)
        .order_by()
        .values_list("status")
        .annotate(n=Count("*"), cost=Sum("cost"))
    )
    return _counts(rows)


def campaign_counts_many(campaign_ids: Iterable[int]) -> dict[int, CampaignCounts]:
    """The status counts (no cost) of several campaigns in one query
    (GROUP BY campaign_id, status): an index-only scan of the campaign-status index."""
    ids = list(campaign_ids)
    grouped: dict[int, list] = {pk: [] for pk in ids}
    rows = (
        Message.objects.filter(campaign_id__in=ids)
        .order_by()
        .values_list("campaign_id", "status")
        .annotate(n=Count("*"))
    )
    for campaign_id, status, n in rows:
        grouped[campaign_id].append((status, n, None))
    return {pk: _counts(rows) for pk, rows in grouped.items()}


@dataclass(frozen=True)
class LinkClicks:
    index: int
    url: str
    unique: int
    total: int


@dataclass(frozen=True)
class Engagement:
    clicks_unique: int = 0  # recipients who clicked at least once
    clicks_total: int = 0
    replied: int = 0
    opted_out: int = 0
    links: tuple[LinkClicks, ...] = ()


def _recipient_of(campaign_id: int) -> Exists:
    """The contact got this campaign (the (campaign_id, contact_id) unique index)."""
    return Exists(
        Message.objects.filter(campaign_id=campaign_id, contact_id=OuterRef("contact_id"))
    )


def _clicks(campaign_id: int) -> tuple[int, int, tuple[LinkClicks, ...]]:
    """(unique, total, per link): one grouped query over the campaign's clicks."""
    per_link = dict(
        (link_id, (unique, total))
        for link_id, unique, total in Click.objects.filter(campaign_id=campaign_id)
        .order_by()
        .values_list("link_id")
        .annotate(unique=Count("message_id", distinct=True), total=Count("*"))
    )
    links = tuple(
        LinkClicks(index, url, *per_link.get(pk, (0, 0)))
        for pk, index, url in CampaignLink.objects.filter(campaign_id=campaign_id)
        .order_by("index")
        .values_list("pk", "index", "url")
    )
    total = sum(t for _, t in per_link.values())
    if len(per_link) > 1:  # a recipient may have clicked several links
        unique = Click.objects.filter(campaign_id=campaign_id).aggregate(
            n=Count("message_id", distinct=True)
        )["n"]
    else:
        unique = sum(u for u, _ in per_link.values())
    return unique, total, links


def _replied(campaign: Campaign) -> int:
    """Recipients who texted one of our numbers after the launch. Inbound texts are
    found through message_by_to_idx (to_number = our number, created_at after the
    launch), so the campaign's own million outbound rows are never read."""
    our_numbers = list(Sender.objects.values_list("value", flat=True))
    return (
        Message.objects.filter(
            direction=Direction.INBOUND,
            to_number__in=our_numbers,
            created_at__gte=campaign.launched_at,
            contact_id__isnull=False,
        )
        .filter(_recipient_of(campaign.pk))
        .aggregate(n=Count("contact_id", distinct=True))["n"]
    )


def _opted_out(campaign: Campaign) -> int:
    return (
        ConsentEvent.objects.filter(
            kind=ConsentEvent.Kind.OPT_OUT,
            created_at__gte=campaign.launched_at,
            contact_id__isnull=False,
        )
        .filter(_recipient_of(campaign.pk))
        .aggregate(n=Count("contact_id", distinct=True))["n"]
    )


def engagement(campaign: Campaign) -> Engagement:
    unique, total, links = _clicks(campaign.pk)
    launched = campaign.launched_at is not None
    return Engagement(
        clicks_unique=unique,
        clicks_total=total,
        replied=_replied(campaign) if launched else 0,
        opted_out=_opted_out(campaign) if launched else 0,
        links=links,
    )


@dataclass(frozen=True)
class FailureReason:
    status: str
    code: str
    reason: str
    count: int


def failure_reasons(campaign_id: int, limit: int = 10) -> list[FailureReason]:
    rows = (
        Message.objects.filter(campaign_id=campaign_id, status__in=FAILURE_STATUSES)
        .order_by()
        .values_list("status", "error_code", "error_reason")
        .annotate(n=Count("*"))
        .order_by("-n", "error_code")[:limit]
    )
    return [FailureReason(status, code, reason, n) for status, code, reason, n in rows]


# -- the report as a whole -------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """Queued messages held back on purpose (quiet hours, a local send time, a
    spread), and when the next of them is due."""

    count: int
    next_at: datetime
    reason: str


def waiting(campaign: Campaign, counts: CampaignCounts, now: datetime | None = None):
    """None unless some queued messages are not due yet. One query, only when the
    counts show queued messages (campaign-status index, then send_after)."""
    if not counts.by_status.get(Status.QUEUED):
        return None
    now = now or timezone.now()
    row = Message.objects.filter(
        campaign_id=campaign.pk, status=Status.QUEUED, send_after__gt=now
    ).aggregate(n=Count("*"), next_at=Min("send_after"))
    if not row["n"]:
        return None
    if campaign.schedule == Campaign.Schedule.LOCAL:
        reason = "their recipients' local send time"
    elif campaign.spread_minutes:
        reason = f"the spread over {campaign.spread_minutes} minutes"
    elif campaign.respect_quiet_hours:
        reason = "quiet hours to end in their recipients' time zones"
    else:
        reason = "their scheduled time"
    return Waiting(count=row["n"], next_at=row["next_at"], reason=reason)


@dataclass(frozen=True)
class Snapshot:
    counts: CampaignCounts
    engagement: Engagement
    failures: tuple[FailureReason, ...]
    taken_at: datetime
    waiting: Waiting | None = None


def campaign_snapshot(campaign: Campaign) -> Snapshot:
    """Everything the report's summary shows.

    A large campaign's figures take a few hundred milliseconds to count, and its
    report is polled by everyone watching it: viewers then share one snapshot for a
    moment (shorter than the polling interval while it sends). Small campaigns are
    counted afresh on every request."""

    def take() -> Snapshot:
        counts = campaign_counts(campaign.pk)
        return Snapshot(
            counts=counts,
            engagement=engagement(campaign),
            failures=tuple(failure_reasons(campaign.pk)),
            taken_at=timezone.now(),
            waiting=waiting(campaign, counts),
        )

    if campaign.recipients + campaign.suppressed < SNAPSHOT_MIN_MESSAGES:
        return take()
    live = campaign.status in LIVE_STATUSES
    return cache.get_or_set(
        snapshot_key(campaign.pk),
        take,
        SNAPSHOT_SECONDS_LIVE if live else SNAPSHOT_SECONDS_DONE,
    )


def awaiting_receipts(campaign: Campaign, counts: CampaignCounts) -> int:
    """Messages of a recently completed campaign still waiting for their delivery
    receipt (0 for a campaign still sending, or completed more than a day ago)."""
    if campaign.status != Campaign.Status.COMPLETED or campaign.completed_at is None:
        return 0
    if campaign.completed_at < timezone.now() - RECEIPT_WATCH:
        return 0
    return counts.by_status.get(Status.SENT, 0)


def snapshot_key(campaign_id: int) -> str:
    return f"campaigns:report:{campaign_id}"


# -- the delivery chart ----------------------------------------------------------------


def delivery_timeline(campaign_id: int) -> dict:
    """Sent, delivered and failed (failed or undelivered) per time bucket, for Chart.js.

    One pass over the campaign's rows: grouped by the minutes of all three events at
    once (a receipt comes minutes after its send, so the combinations stay few), then
    split into three series here."""
    rows = (
        Message.objects.filter(campaign_id=campaign_id)
        .filter(Q(sent_at__isnull=False) | Q(failed_at__isnull=False))
        .order_by()
        .values_list(
            TruncMinute("sent_at"),
            TruncMinute("delivered_at"),
            TruncMinute(Coalesce("failed_at", "undelivered_at")),
        )
        .annotate(n=Count("*"))
    )
    series: dict[str, dict[datetime, int]] = {"sent": {}, "delivered": {}, "failed": {}}
    for *minutes, n in rows:
        for name, minute in zip(series, minutes, strict=True):
            if minute is not None:
                series[name][minute] = series[name].get(minute, 0) + n
    every = [m for values in series.values() for m in values]
    if not every:
        return {"labels": [], "bucket_minutes": 1, "sent": [], "delivered": [], "failed": []}
    first, last = min(every), max(every)
    span = int((last - first).total_seconds() // 60) + 1
    bucket = next((b for b in BUCKET_MINUTES if span / b <= MAX_CHART_POINTS), BUCKET_MINUTES[-1])
    points = span // bucket + 1
    out: dict = {"bucket_minutes": bucket}
    for name, values in series.items():
        totals = [0] * points
        for minute, n in values.items():
            totals[int((minute - first).total_seconds() // 60) // bucket] += n
        out[name] = totals
    step = timedelta(minutes=bucket)
    out["labels"] = [timezone.localtime(first + i * step).isoformat() for i in range(points)]
    return out


# -- recipients ------------------------------------------------------------------------

RECIPIENT_FIELDS = (
    "id",
    "to_number",
    "contact_id",
    "contact__first_name",
    "contact__last_name",
    "status",
    "error_code",
    "error_reason",
    "segments",
    "cost",
    "sent_at",
    "delivered_at",
    "undelivered_at",
    "failed_at",
)


def recipients_query(campaign_id: int, *, status: str = "", number: str = ""):
    rows = Message.objects.filter(campaign_id=campaign_id)
    if status:
        rows = rows.filter(status=status)
    if number.startswith("+"):
        rows = rows.filter(to_number=number)
    elif number:
        rows = rows.filter(to_number__contains=number)
    return rows


def _with_clicks(campaign_id: int, rows: list[dict]) -> list[dict]:
    clicks = dict(
        Click.objects.filter(campaign_id=campaign_id, message_id__in=[r["id"] for r in rows])
        .order_by()
        .values_list("message_id")
        .annotate(n=Count("*"))
    )
    for row in rows:
        row["clicks"] = clicks.get(row["id"], 0)
    return rows


def recipients_page(
    campaign_id: int, *, status: str = "", number: str = "", after: int = 0, size: int = 50
) -> tuple[list[dict], int | None]:
    """One page of recipients in contact order (the launch's order); returns the rows
    and the cursor of the next page.

    The keyset is the contact id, so the (campaign_id, contact_id) unique index serves
    every page in a few reads wherever the campaign's rows lie in the table (an id
    keyset would walk the primary key past other campaigns' rows). Messages whose
    contact has since been deleted are counted in the report but not listed."""
    rows = list(
        recipients_query(campaign_id, status=status, number=number)
        .filter(contact_id__gt=after)
        .order_by("contact_id")
        .values(*RECIPIENT_FIELDS)[: size + 1]
    )
    more = len(rows) > size
    rows = _with_clicks(campaign_id, rows[:size])
    return rows, (rows[-1]["contact_id"] if more else None)


# (column, recipients_page field)
EXPORT_COLUMNS = [
    ("phone", "to_number"),
    ("first_name", "contact__first_name"),
    ("last_name", "contact__last_name"),
    *((name, name) for name in ("status", "error_code", "error_reason", "segments", "cost")),
    *((name, name) for name in ("sent_at", "delivered_at", "undelivered_at", "failed_at")),
    ("clicks", "clicks"),
]
EXPORT_HEADER = [column for column, _ in EXPORT_COLUMNS]
EXPORT_FIELDS = [field for _, field in EXPORT_COLUMNS]


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_csv(
    campaign_id: int, *, status: str = "", number: str = "", chunk: int = 2000
) -> Iterator[str]:
    """The recipients as CSV text, read in keyset chunks (memory stays flat and no
    transaction stays open while the client downloads). Cells that a spreadsheet
    would run as a formula, E.164 numbers included, get a leading single quote."""
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield "\ufeff" + writer.writerow(EXPORT_HEADER)
    after = 0
    while True:
        rows, after = recipients_page(
            campaign_id, status=status, number=number, after=after, size=chunk
        )
        yield "".join(writer.writerow([neutralise(r[k]) for k in EXPORT_FIELDS]) for r in rows)
        if after is None:
            return


# -- the dashboard ---------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardTotals:
    sent_today: int
    sent_week: int
    delivered_week: int
    opt_outs_week: int

    @property
    def delivered_rate(self) -> float | None:
        return rate(self.delivered_week, self.sent_week)


def dashboard_totals(now: datetime | None = None) -> DashboardTotals:
    """Outbound messages sent today and this week (Monday on), their delivered rate,
    and opt-outs this week. Cached briefly: every dashboard load would otherwise
    read the week's messages."""
    local = timezone.localtime(now or timezone.now())
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    key = f"campaigns:dashboard-totals:{week.date()}:{today.date()}"
    cached = cache.get(key)
    if cached is not None:
        return DashboardTotals(**cached)
    sent = Message.objects.filter(
        direction=Direction.OUTBOUND, created_at__gte=week - SEND_WINDOW, sent_at__gte=week
    ).aggregate(
        week=Count("*"),
        today=Count("id", filter=Q(sent_at__gte=today)),
        delivered=Count("id", filter=Q(status=Status.DELIVERED)),
    )
    opt_outs = ConsentEvent.objects.filter(
        kind=ConsentEvent.Kind.OPT_OUT, created_at__gte=week
    ).count()
    totals = {
        "sent_today": sent["today"],
        "sent_week": sent["week"],
        "delivered_week": sent["delivered"],
        "opt_outs_week": opt_outs,
    }
    cache.set(key, totals, DASHBOARD_CACHE_SECONDS)
    return DashboardTotals(**totals)


@dataclass(frozen=True)
class RecentCampaign:
    campaign: Campaign
    counts: CampaignCounts


def recent_campaigns(limit: int = 5) -> list[RecentCampaign]:
    """The newest campaigns with their status counts (cached with the dashboard's
    totals: a recent campaign may hold a million messages)."""
    campaigns = list(Campaign.objects.order_by("-created_at", "-id")[:limit])
    ids = [c.pk for c in campaigns]
    key = "campaigns:dashboard-recent:" + ",".join(map(str, ids))
    counts = cache.get(key)
    if counts is None:
        counts = campaign_counts_many(ids)
        cache.set(key, counts, DASHBOARD_CACHE_SECONDS)
    return [RecentCampaign(c, counts[c.pk]) for c in campaigns]


# -- the campaign list -----------------------------------------------------------------


def campaign_rates_shared(campaigns: Iterable[Campaign]) -> dict:
    """compose.campaign_rates for a page of the campaign list, where the large
    campaigns share their counts between viewers for a moment, as their reports do
    (campaign_snapshot): counting a million messages' statuses takes a hundred
    milliseconds or more, and the list is the page marketers open most. Campaigns
    under LIST_SHARE_MIN_MESSAGES are counted afresh (one grouped query for all)."""
    from campaigns.compose import campaign_rates

    campaigns = list(campaigns)
    big = {
        c.pk: (f"campaigns:rates:{c.pk}", c.status in LIVE_STATUSES)
        for c in campaigns
        if c.recipients + c.suppressed >= LIST_SHARE_MIN_MESSAGES
    }
    cached = cache.get_many([key for key, _ in big.values()]) if big else {}
    rates = {pk: cached[key] for pk, (key, _) in big.items() if key in cached}
    fresh = campaign_rates(c.pk for c in campaigns if c.pk not in rates)
    for pk, (key, live) in big.items():
        if pk in fresh:
            cache.set(key, fresh[pk], SNAPSHOT_SECONDS_LIVE if live else SNAPSHOT_SECONDS_DONE)
    return {**rates, **fresh}
