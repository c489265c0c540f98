"""The campaign report: summary (live while sending), delivery chart, failures,
recipients (filters, keyset pages) and the CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.text import slugify

from campaigns import reports
from campaigns.models import Campaign
from contacts import phone as phones
from messaging.models import Status
from smsworks.permissions import require

PAGE_SIZE = 50
LIVE_POLL_MS = 2500
# After completion, while receipts are still due: a slower poll.
RECEIPTS_POLL_MS = 10_000
TIMELINE_CACHE_SECONDS = 5
TIMELINE_CACHE_SECONDS_DONE = 60


@dataclass(frozen=True)
class Tile:
    label: str
    value: int | Decimal
    icon: str
    rate: float | None = None
    caption: str = ""
    tone: str = "primary"
    test_id: str = ""
    money: bool = False


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    width: float
    tone: str


class RecipientFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status"), *((s.value, s.label) for s in Status if s != Status.RECEIVED)],
    )
    number = forms.CharField(required=False, max_length=30)

    def clean_number(self) -> str:
        raw = self.cleaned_data["number"].strip()
        if not raw:
            return ""
        try:
            return phones.normalize(raw)
        except phones.InvalidNumber:
            digits = "".join(c for c in raw if c.isdigit())
            if not digits:
                raise forms.ValidationError("Enter a phone number or some of its digits.") from None
            return digits


def _campaign(pk: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("sender"), pk=pk)


def _tiles(counts: reports.CampaignCounts, engaged: reports.Engagement) -> list[Tile]:
    not_delivered = counts.undelivered + counts.failed + counts.expired
    return [
        Tile(
            "Recipients",
            counts.recipients,
            "people",
            caption=f"{counts.suppressed:,} suppressed (opted out)",
            test_id="recipients",
        ),
        Tile(
            "Sent",
            counts.sent,
            "send",
            rate=reports.rate(counts.sent, counts.recipients),
            caption="of recipients",
            test_id="sent",
        ),
        Tile(
            "Delivered",
            counts.delivered,
            "check2-circle",
            rate=counts.delivered_rate,
            caption="of sent",
            tone="success",
            test_id="delivered",
        ),
        Tile(
            "Not delivered",
            not_delivered,
            "x-octagon",
            rate=reports.rate(not_delivered, counts.recipients),
            caption=f"{counts.failed:,} failed · {counts.undelivered:,} undelivered",
            tone="danger",
            test_id="not-delivered",
        ),
        Tile(
            "Clicked",
            engaged.clicks_unique,
            "cursor",
            rate=reports.rate(engaged.clicks_unique, counts.sent),
            caption=f"of sent · {engaged.clicks_total:,} click{pluralize(engaged.clicks_total)} in all",
            tone="info",
            test_id="clicked",
        ),
        Tile(
            "Replied",
            engaged.replied,
            "reply",
            rate=reports.rate(engaged.replied, counts.sent),
            caption="of sent",
            tone="info",
            test_id="replied",
        ),
        Tile(
            "Opted out",
            engaged.opted_out,
            "slash-circle",
            rate=reports.rate(engaged.opted_out, counts.sent),
            caption="of sent",
            tone="warning",
            test_id="opted-out",
        ),
        Tile(
            "Cost",
            counts.cost,
            "cash-coin",
            money=True,
            caption=f"{counts.sent:,} messages sent",
            tone="secondary",
            test_id="cost",
        ),
    ]


def _bars(counts: reports.CampaignCounts) -> list[Bar]:
    """The recipients split by where their message is, for the progress bar."""
    parts = [
        ("Delivered", counts.delivered, "success"),
        ("Awaiting receipt", counts.awaiting_receipt, "info"),
        ("Not delivered", counts.undelivered + counts.failed + counts.expired, "danger"),
        ("Cancelled", counts.cancelled, "dark"),
        ("Queued or sending", counts.queued + counts.sending, "secondary"),
    ]
    whole = counts.recipients or 1
    return [Bar(label, n, 100.0 * n / whole, tone) for label, n, tone in parts if n]


def _statuses(counts: reports.CampaignCounts) -> list[tuple[str, str, int, float | None]]:
    shown = [
        Status.QUEUED,
        Status.SENDING,
        Status.SENT,
        Status.DELIVERED,
        Status.UNDELIVERED,
        Status.FAILED,
        Status.EXPIRED,
        Status.CANCELLED,
        Status.SUPPRESSED,
    ]
    return [
        (
            s.value,
            "Awaiting receipt" if s == Status.SENT else s.label,
            counts.by_status.get(s, 0),
            reports.rate(counts.by_status.get(s, 0), counts.total),
        )
        for s in shown
    ]


def _summary_context(campaign: Campaign) -> dict:
    snapshot = reports.campaign_snapshot(campaign)
    sending = campaign.status in reports.LIVE_STATUSES
    awaiting = reports.awaiting_receipts(campaign, snapshot.counts)
    return {
        "campaign": campaign,
        "counts": snapshot.counts,
        "failures": snapshot.failures,
        "links": snapshot.engagement.links,
        "live": sending or awaiting > 0,
        "awaiting_receipts": awaiting,
        "poll_ms": LIVE_POLL_MS if sending else RECEIPTS_POLL_MS,
        "tiles": _tiles(snapshot.counts, snapshot.engagement),
        "bars": _bars(snapshot.counts),
        "statuses": _statuses(snapshot.counts),
        "updated_at": snapshot.taken_at,
        "waiting": snapshot.waiting,
    }


@require("campaigns_view")
def report(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "campaigns/report.html", _summary_context(_campaign(pk)))


@require("campaigns_view")
def report_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The summary alone: HTMX polls it while the campaign is sending, and more slowly
    after it completed while receipts are still due. The header's status badge comes
    along out of band, so "Completed" shows as soon as it is."""
    context = {**_summary_context(_campaign(pk)), "oob": True}
    return render(request, "campaigns/_report_summary.html", context)


@require("campaigns_view")
def report_timeline(request: HttpRequest, pk: int) -> JsonResponse:
    """The chart's data. It reads every row of the campaign, so viewers share one
    answer for a few seconds (the page redraws the chart every ten while sending)."""
    campaign = _campaign(pk)
    live = campaign.status in reports.LIVE_STATUSES
    timeline = cache.get_or_set(
        f"campaigns:timeline:{campaign.pk}",
        lambda: reports.delivery_timeline(campaign.pk),
        TIMELINE_CACHE_SECONDS if live else TIMELINE_CACHE_SECONDS_DONE,
    )
    return JsonResponse(timeline)


def _filters(request: HttpRequest) -> tuple[RecipientFilterForm, str, str]:
    form = RecipientFilterForm(request.GET or None)
    if form.is_valid():
        return form, form.cleaned_data["status"], form.cleaned_data["number"]
    return form, "", ""


@require("campaigns_view")
def report_recipients(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    form, status, number = _filters(request)
    after = request.GET.get("after", "")
    after_id = int(after) if after.isdigit() and len(after) < 19 else 0
    rows, next_after = reports.recipients_page(
        campaign.pk, status=status, number=number, after=after_id, size=PAGE_SIZE
    )
    query = request.GET.copy()
    query.pop("after", None)
    filters_query = query.urlencode()
    if next_after is not None:
        query["after"] = next_after
    context = {
        "campaign": campaign,
        "form": form,
        "rows": rows,
        "first_page": after_id == 0,
        "next_query": query.urlencode() if next_after is not None else "",
        "filters_query": filters_query,
        "filtered": bool(status or number),
    }
    template = (
        "campaigns/_report_recipients.html" if request.htmx else "campaigns/report_recipients.html"
    )
    return render(request, template, context)


@require("campaigns_view")
def report_export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    campaign = _campaign(pk)
    _form, status, number = _filters(request)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    name = f"{slugify(campaign.name) or 'campaign'}-{campaign.pk}-recipients-{stamp}.csv"
    response = StreamingHttpResponse(
        reports.export_csv(campaign.pk, status=status, number=number),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
