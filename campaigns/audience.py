"""Who a campaign goes to, and when each recipient's message may leave."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Exists, OuterRef, Q, QuerySet

from campaigns.models import Campaign, CampaignSettings
from contacts.models import Contact, ContactList, ListMembership, Segment
from contacts.segments import segment_queryset

# The earliest time zone on Earth: a local-time campaign is launched when its
# send time arrives there, and each recipient's row waits for their own.
EARLIEST_ZONE = ZoneInfo("Pacific/Kiritimati")


def audience_queryset(
    *,
    lists: list[ContactList],
    segments: list[Segment],
    exclude_lists: list[ContactList] = (),
    exclude_segments: list[Segment] = (),
) -> QuerySet[Contact]:
    """Contacts in any of the lists or segments, minus the exclusions: one query."""
    include = Q()
    if lists:
        include |= Q(
            Exists(ListMembership.objects.filter(contact=OuterRef("pk"), contact_list__in=lists))
        )
    for segment in segments:
        include |= Q(pk__in=segment_queryset(segment).values("pk"))
    if not include:
        return Contact.objects.none()
    contacts = Contact.objects.filter(include, erased_at__isnull=True)
    if exclude_lists:
        contacts = contacts.exclude(
            Exists(
                ListMembership.objects.filter(
                    contact=OuterRef("pk"), contact_list__in=exclude_lists
                )
            )
        )
    for segment in exclude_segments:
        contacts = contacts.exclude(pk__in=segment_queryset(segment).values("pk"))
    return contacts


def campaign_audience(campaign: Campaign) -> QuerySet[Contact]:
    return audience_queryset(
        lists=list(campaign.lists.all()),
        segments=list(campaign.segments.all()),
        exclude_lists=list(campaign.exclude_lists.all()),
        exclude_segments=list(campaign.exclude_segments.all()),
    )


def zone_of(name: str, default: ZoneInfo) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else default
    except (ZoneInfoNotFoundError, ValueError):
        return default


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # the window wraps midnight


def after_quiet_hours(moment: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """`moment` itself, or the end of the quiet window it falls in (recipient's local time)."""
    local = moment.astimezone(zone)
    if not in_quiet_hours(local.timetz().replace(tzinfo=None), start, end):
        return moment
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)  # late evening: the window ends tomorrow morning
    return datetime.combine(day, end, tzinfo=zone)


def send_time(
    campaign: Campaign, zone: ZoneInfo, now: datetime, rules: CampaignSettings
) -> datetime:
    """When a recipient in `zone` may get this campaign."""
    if (
        campaign.schedule == Campaign.Schedule.LOCAL
        and campaign.local_time
        and campaign.scheduled_at
    ):
        local_day: date = campaign.scheduled_at.astimezone(EARLIEST_ZONE).date()
        moment = max(now, datetime.combine(local_day, campaign.local_time, tzinfo=zone))
    else:
        moment = max(now, campaign.scheduled_at or now)
    if campaign.respect_quiet_hours:
        moment = after_quiet_hours(moment, zone, rules.quiet_start, rules.quiet_end)
    return moment


def local_launch_time(day: date, at: time) -> datetime:
    """When a local-time campaign must launch: its send time in the earliest zone."""
    return datetime.combine(day, at, tzinfo=EARLIEST_ZONE)
