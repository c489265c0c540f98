"""The compose page's reads (estimate, preview, rates) and the few writes the
campaign services do not cover yet: saving a draft and rejecting a submission.

Estimates never loop over contacts in Python: the recipient count and the cost
come from one aggregate query grouped by destination country.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from campaigns.audience import EARLIEST_ZONE, audience_queryset
from campaigns.launch import URL
from campaigns.models import Campaign, CampaignSettings
from contacts import phone as phones
from contacts.models import Contact, ContactList, Segment, Suppression
from messaging import encoding, merge
from messaging.models import Message, Sender, Status

PREVIEW_SIZE = 3
MAX_LINKS = 9  # links_save keeps the first nine URLs of a body
SHORT_CODE_LENGTH = 8
# A realistic message id, so preview links look like the real ones (7 chars + index).
_PREVIEW_MESSAGE_ID = 62**6 * 7 + 123_456_789
EDITABLE = (
    Campaign.Status.DRAFT,
    Campaign.Status.PENDING_APPROVAL,
    Campaign.Status.SCHEDULED,
)
# Handed to the provider: the denominator of the delivery and failure rates.
ATTEMPTED = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED, Status.FAILED)


# -- the body as it will be sent ---------------------------------------------------------


def short_link_length() -> int:
    return len(settings.SHORT_LINK_BASE_URL) + 1 + SHORT_CODE_LENGTH


def body_urls(body: str) -> list[str]:
    """The URLs that become short links, in the order links_save numbers them."""
    urls: list[str] = []
    for match in URL.finditer(body):
        if match.group(0) not in urls:
            urls.append(match.group(0))
    return urls[:MAX_LINKS]


def draft_template(body: str, *, shorten_links: bool, opt_out_footer: bool, footer: str) -> str:
    """launch.final_template for a body that is not saved yet (no CampaignLink rows)."""
    text = body.strip()
    if shorten_links:
        index = {url: i for i, url in enumerate(body_urls(text), 1)}
        text = URL.sub(
            lambda m: f"{{{{ link:{index[m.group(0)]} }}}}" if m.group(0) in index else m.group(0),
            text,
        )
    if opt_out_footer and footer and footer.lower() not in text.lower():
        text = f"{text}\n{footer}"
    return text


def preview_link(index: int) -> str:
    if not 1 <= index <= MAX_LINKS:  # a hand-typed {{ link:0 }} renders empty, as at send time
        return ""
    return f"{settings.SHORT_LINK_BASE_URL}/{merge.link_code(_PREVIEW_MESSAGE_ID, index)}"


# -- who gets it and what it costs ---------------------------------------------------------


def _suppressed() -> Q:
    return Q(opted_out=True) | Q(Exists(Suppression.objects.filter(phone=OuterRef("phone"))))


def reachable(audience: QuerySet[Contact]) -> QuerySet[Contact]:
    """The audience minus opted-out contacts and suppressed numbers (as launch counts them)."""
    return audience.exclude(_suppressed())


@dataclass(frozen=True)
class CountryCost:
    country: str
    recipients: int
    price: Decimal  # per segment
    cost: Decimal


@dataclass(frozen=True)
class Estimate:
    template: str
    analysis: encoding.Analysis
    smart: encoding.SmartResult | None
    fixable: bool
    audience_chosen: bool
    audience: int = 0
    recipients: int = 0
    countries: list[CountryCost] = field(default_factory=list)
    cost: Decimal = Decimal(0)
    previews: list[tuple[Contact | None, str]] = field(default_factory=list)

    @property
    def segments(self) -> int:
        return max(1, self.analysis.segments)

    @property
    def left_out(self) -> int:
        return self.audience - self.recipients

    @property
    def has_links(self) -> bool:
        return any(name.startswith("link:") for name in merge.fields_in(self.template))


def counter_analysis(
    body: str, template: str
) -> tuple[encoding.Analysis, encoding.SmartResult | None, bool]:
    """The segment count at realistic merge-field and short-link lengths, and the smart
    fix. The fix rewrites what the user typed; it is offered only when it makes the whole
    message (footer included) GSM-7."""
    analysis = encoding.analyze(merge.typical(template, link_length=short_link_length()))
    if analysis.encoding != encoding.UCS_2 and encoding.is_gsm(template):
        return analysis, None, False
    smart = encoding.smart_encode(body)
    fixable = bool(smart.replacements) and encoding.is_gsm(encoding.smart_encode(template).text)
    return analysis, smart, fixable


def compose_estimate(
    *,
    body: str,
    sender: Sender | None,
    lists: Sequence[ContactList] = (),
    segments: Sequence[Segment] = (),
    exclude_lists: Sequence[ContactList] = (),
    exclude_segments: Sequence[Segment] = (),
    opt_out_footer: bool = True,
    shorten_links: bool = True,
) -> Estimate:
    footer = CampaignSettings.load().opt_out_footer
    template = draft_template(
        body, shorten_links=shorten_links, opt_out_footer=opt_out_footer, footer=footer
    )
    analysis, smart, fixable = counter_analysis(body, template)
    if not (lists or segments):
        previews = [(None, merge.render(template, {}, preview_link))] if body.strip() else []
        return Estimate(template, analysis, smart, fixable, False, previews=previews)
    audience = audience_queryset(
        lists=list(lists),
        segments=list(segments),
        exclude_lists=list(exclude_lists),
        exclude_segments=list(exclude_segments),
    )
    rows = (
        audience.order_by()
        .values("country")
        .annotate(total=Count("id"), reachable=Count("id", filter=~_suppressed()))
    )
    segment_count = max(1, analysis.segments)
    countries = []
    for row in sorted(rows, key=lambda r: (-r["reachable"], r["country"])):
        if not row["reachable"]:
            continue
        price = sender.account.price_for(row["country"]) if sender else Decimal(0)
        countries.append(
            CountryCost(
                row["country"], row["reachable"], price, row["reachable"] * segment_count * price
            )
        )
    previews = [
        (contact, merge.render(template, merge.contact_values(contact), preview_link))
        for contact in reachable(audience).order_by("id")[:PREVIEW_SIZE]
    ]
    return Estimate(
        template,
        analysis,
        smart,
        fixable,
        True,
        audience=sum(r["total"] for r in rows),
        recipients=sum(c.recipients for c in countries),
        countries=countries,
        cost=sum((c.cost for c in countries), Decimal(0)),
        previews=previews,
    )


def campaign_estimate(campaign: Campaign, *, with_audience: bool = True) -> Estimate:
    """The estimate of a saved campaign; without the audience, only the text is counted."""
    return compose_estimate(
        body=campaign.body,
        sender=campaign.sender,
        lists=list(campaign.lists.all()) if with_audience else (),
        segments=list(campaign.segments.all()) if with_audience else (),
        exclude_lists=list(campaign.exclude_lists.all()) if with_audience else (),
        exclude_segments=list(campaign.exclude_segments.all()) if with_audience else (),
        opt_out_footer=campaign.opt_out_footer,
        shorten_links=campaign.shorten_links,
    )


def body_for_test_send(*, body: str, template: str, to: str) -> tuple[str, Contact | None]:
    """The text a test send carries: rendered for the number's contact when there is
    one, with fallbacks otherwise. Links point straight at their URL: a test message
    has no short link of its own."""
    try:
        number = phones.normalize(to)
    except phones.InvalidNumber:
        number = to.strip()
    contact = Contact.objects.filter(phone=number, erased_at__isnull=True).first()
    values = merge.contact_values(contact) if contact else {}
    urls = body_urls(body.strip())
    text = merge.render(template, values, lambda i: urls[i - 1] if 1 <= i <= len(urls) else "")
    return text, contact


# -- schedule fields -----------------------------------------------------------------------


def local_day(campaign: Campaign) -> date | None:
    """The day of a local-time campaign. Before release scheduled_at is a moment on that
    day in the workspace zone; campaign_schedule then turns it into the launch moment in
    the earliest zone, where the day is the same."""
    if not campaign.scheduled_at:
        return None
    if campaign.status in (Campaign.Status.DRAFT, Campaign.Status.PENDING_APPROVAL):
        return timezone.localdate(campaign.scheduled_at)
    return campaign.scheduled_at.astimezone(EARLIEST_ZONE).date()


def local_day_moment(day: date) -> datetime:
    """What a draft stores for a local-time day (midday, so no zone shifts the date)."""
    return datetime.combine(day, time(12, 0), tzinfo=timezone.get_current_timezone())


# -- writes --------------------------------------------------------------------------------

CONTENT_FIELDS = (
    "name",
    "sender",
    "body",
    "opt_out_footer",
    "shorten_links",
    "utm",
    "schedule",
    "scheduled_at",
    "local_time",
    "recurrence",
    "respect_quiet_hours",
    "spread_minutes",
)


@dataclass(frozen=True)
class Draft:
    """What the compose form hands over, already validated."""

    name: str
    sender: Sender
    body: str
    lists: Sequence[ContactList] = ()
    segments: Sequence[Segment] = ()
    exclude_lists: Sequence[ContactList] = ()
    exclude_segments: Sequence[Segment] = ()
    opt_out_footer: bool = True
    shorten_links: bool = True
    utm: str = ""
    schedule: str = Campaign.Schedule.NOW
    scheduled_at: datetime | None = None
    local_time: time | None = None
    recurrence: str = ""
    respect_quiet_hours: bool = True
    spread_minutes: int = 0

    def fields(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in CONTENT_FIELDS}


@transaction.atomic
def campaign_draft_save(
    *, draft: Draft, by: AbstractBaseUser, campaign: Campaign | None = None
) -> Campaign:
    """Create a draft, or save an edit. An edit of a submitted or scheduled campaign
    takes it back to draft (it must be submitted again), in one conditional update, so
    a launch that claimed it first wins and the edit is refused."""
    if campaign is None:
        campaign = Campaign.objects.create(created_by=by, **draft.fields())
    else:
        changed = Campaign.objects.filter(pk=campaign.pk, status__in=EDITABLE).update(
            status=Campaign.Status.DRAFT,
            approved_by=None,
            updated_at=timezone.now(),
            **draft.fields(),
        )
        if not changed:
            raise ValidationError("This campaign has started, so it can no longer be edited.")
        campaign.refresh_from_db()
    campaign.lists.set(draft.lists)
    campaign.segments.set(draft.segments)
    campaign.exclude_lists.set(draft.exclude_lists)
    campaign.exclude_segments.set(draft.exclude_segments)
    return campaign


def campaign_reject(*, campaign: Campaign, by: AbstractBaseUser) -> Campaign:
    """Send a submission back to its author as a draft."""
    changed = Campaign.objects.filter(
        pk=campaign.pk, status=Campaign.Status.PENDING_APPROVAL
    ).update(status=Campaign.Status.DRAFT, approved_by=None, updated_at=timezone.now())
    if not changed:
        raise ValidationError("This campaign is no longer waiting for approval.")
    campaign.refresh_from_db()
    return campaign


# -- rates for the list and detail pages ---------------------------------------------------


@dataclass(frozen=True)
class Rates:
    messages: int = 0
    suppressed: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0

    @property
    def recipients(self) -> int:
        return self.messages - self.suppressed

    @property
    def delivered_pct(self) -> float | None:
        return 100 * self.delivered / self.sent if self.sent else None

    @property
    def failed_pct(self) -> float | None:
        return 100 * self.failed / self.sent if self.sent else None


def campaign_rates(campaign_ids: Iterable[int]) -> dict[int, Rates]:
    """Message counts per campaign: GROUP BY campaign_id, status, an index-only scan
    of message_campaign_status_idx (counting rows, not ids, keeps the heap out)."""
    ids = list(campaign_ids)
    if not ids:
        return {}
    by_campaign: dict[int, dict[str, int]] = {}
    rows = (
        Message.objects.filter(campaign_id__in=ids)
        .order_by()
        .values_list("campaign_id", "status")
        .annotate(n=Count("*"))
    )
    for campaign_id, status, n in rows:
        by_campaign.setdefault(campaign_id, {})[status] = n
    rates = {}
    for campaign_id, counts in by_campaign.items():
        rates[campaign_id] = Rates(
            messages=sum(counts.values()),
            suppressed=counts.get(Status.SUPPRESSED, 0),
            queued=counts.get(Status.QUEUED, 0) + counts.get(Status.SENDING, 0),
            sent=sum(counts.get(s, 0) for s in ATTEMPTED),
            delivered=counts.get(Status.DELIVERED, 0),
            failed=counts.get(Status.UNDELIVERED, 0) + counts.get(Status.FAILED, 0),
        )
    return rates
