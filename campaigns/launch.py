"""Launch: the audience becomes queued outbox rows in one set-based statement.

INSERT ... SELECT from the audience query, one row per recipient, deduplicated
by the unique (campaign, contact) constraint (ON CONFLICT DO NOTHING), so a
relaunch after a crash adds only what is missing. Opted-out recipients get a
'suppressed' row, so they are counted and visible. Memory stays flat: no row
passes through Python.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.services import audit_record
from campaigns.audience import campaign_audience, send_time, zone_of
from campaigns.models import Campaign, CampaignLink, CampaignSettings
from messaging import encoding, merge
from messaging.models import Message, Status

log = logging.getLogger(__name__)

URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
STALE_LAUNCH = timedelta(minutes=2)


def final_template(campaign: Campaign) -> str:
    """The body as it will be sent: links as {{ link:N }}, the opt-out footer added."""
    body = campaign.body.strip()
    if campaign.shorten_links:
        links = {link.url: link.index for link in campaign.links.all()}
        body = URL.sub(
            lambda m: f"{{{{ link:{links[m.group(0)]} }}}}" if m.group(0) in links else m.group(0),
            body,
        )
    if campaign.opt_out_footer:
        footer = CampaignSettings.load().opt_out_footer
        if footer and footer.lower() not in body.lower():
            body = f"{body}\n{footer}"
    return body


def links_save(campaign: Campaign) -> list[CampaignLink]:
    """Record the body's URLs (at most nine) so that short links can point at them."""
    urls: list[str] = []
    for match in URL.finditer(campaign.body):
        if match.group(0) not in urls:
            urls.append(match.group(0))
    campaign.links.all().delete()
    return CampaignLink.objects.bulk_create(
        [CampaignLink(campaign=campaign, index=i, url=url) for i, url in enumerate(urls[:9], 1)]
    )


def _sql(queryset) -> tuple[str, tuple]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def _case(column: str, mapping: dict[str, object], default: object) -> tuple[str, list]:
    if not mapping:
        return "%s", [default]
    whens = " ".join(f"WHEN {column} = %s THEN %s" for _ in mapping)
    params: list = []
    for key, value in mapping.items():
        params += [key, value]
    return f"CASE {whens} ELSE %s END", [*params, default]


def insert_audience(campaign: Campaign, now: datetime) -> int:
    """Write the campaign's outbox rows; returns how many were new."""
    rules = CampaignSettings.load()
    account = campaign.sender.account
    template = final_template(campaign)
    needs_merge = merge.has_tags(template)
    analysis = encoding.analyze(template)
    segments = max(1, analysis.segments)
    audience = campaign_audience(campaign)
    default_zone = zone_of(rules.default_time_zone, ZoneInfo("UTC"))
    zones = list(audience.order_by().values_list("time_zone", flat=True).distinct())
    ops = connection.ops
    when = {
        z: ops.adapt_datetimefield_value(send_time(campaign, zone_of(z, default_zone), now, rules))
        for z in zones
    }
    send_after_sql, send_after_params = _case(
        "c.time_zone", when, ops.adapt_datetimefield_value(now)
    )
    if campaign.spread_minutes and zones:
        total = audience.count() or 1
        step = campaign.spread_minutes * 60 / total
        if connection.vendor == "postgresql":
            send_after_sql = f"({send_after_sql}) + (ROW_NUMBER() OVER (ORDER BY c.id) - 1) * %s * interval '1 second'"
        else:
            send_after_sql = f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {send_after_sql}, '+' || ((ROW_NUMBER() OVER (ORDER BY c.id) - 1) * %s) || ' seconds')"
        send_after_params = [*send_after_params, step]
    prices = {country: str(price) for country, price in account.prices.items()}
    price_sql, price_params = _case("c.country", prices, str(account.default_price))
    suppressed = (
        "(c.opted_out OR EXISTS (SELECT 1 FROM contacts_suppression s WHERE s.phone = c.phone))"
    )
    uuid_sql = (
        "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"
    )
    false = "FALSE" if connection.vendor == "postgresql" else "0"
    audience_sql, audience_params = _sql(audience.values("id"))
    now_db = ops.adapt_datetimefield_value(now)
    # Every value is a parameter; the f-string only joins fixed SQL fragments.
    sql = f"""
        INSERT INTO messaging_message (
            uuid, direction, account_id, sender_id, from_number, to_number, contact_id,
            campaign_id, body, encoding, segments, status, priority, send_after, attempts,
            provider_message_id, provider_response, error_code, error_reason, cost,
            created_at, queued_at, suppressed_at, compliance, merge, held
        )
        SELECT {uuid_sql}, 'out', %s, %s, %s, c.phone, c.id,
            %s, %s, %s, %s,
            CASE WHEN {suppressed} THEN 'suppressed' ELSE 'queued' END,
            'bulk', {send_after_sql}, 0,
            '', '{{}}', '',
            CASE WHEN {suppressed} THEN 'The recipient opted out.' ELSE '' END,
            CASE WHEN %s THEN NULL ELSE CAST({price_sql} AS NUMERIC) * %s END,
            %s, %s, CASE WHEN {suppressed} THEN %s ELSE NULL END, {false}, %s, {false}
        FROM contacts_contact c
        WHERE c.id IN ({audience_sql})
        ORDER BY c.id
        ON CONFLICT (campaign_id, contact_id)
            WHERE campaign_id IS NOT NULL AND contact_id IS NOT NULL DO NOTHING
    """  # noqa: S608
    params = [
        account.pk,
        campaign.sender_id,
        campaign.sender.value,
        campaign.pk,
        template,
        analysis.encoding,
        segments,
        *send_after_params,
        needs_merge,
        *price_params,
        segments,
        now_db,
        now_db,
        now_db,
        needs_merge,
        *audience_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def campaign_launch(*, campaign_id: int) -> bool:
    """Claim a due campaign once and write its outbox. Safe to call twice, from
    two beats or two workers: only one claim succeeds, and a relaunch of a
    crashed launch only adds the missing rows."""
    now = timezone.now()
    claimed = Campaign.objects.filter(
        Q(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now)
        | Q(status=Campaign.Status.LAUNCHING, updated_at__lte=now - STALE_LAUNCH),
        pk=campaign_id,
    ).update(status=Campaign.Status.LAUNCHING, updated_at=now)
    if not claimed:
        return False
    campaign = Campaign.objects.select_related("sender__account").get(pk=campaign_id)
    with transaction.atomic():
        inserted = insert_audience(campaign, now)
        counts = Message.objects.filter(campaign_id=campaign.pk).aggregate(
            total=Count("id"), suppressed=Count("id", filter=Q(status=Status.SUPPRESSED))
        )
        Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.LAUNCHING).update(
            status=Campaign.Status.SENDING,
            launched_at=now,
            recipients=counts["total"] - counts["suppressed"],
            suppressed=counts["suppressed"],
            updated_at=timezone.now(),
        )
        from messaging import tasks

        sender_id = campaign.sender_id
        transaction.on_commit(lambda: tasks.kick_dispatch(sender_id, "bulk"))
    log.info("campaign %s launched: %s new rows", campaign.pk, inserted)
    audit_record(
        actor=None, action="campaign.launched", target=campaign, details={"new_rows": inserted}
    )
    return True


def campaigns_due() -> list[int]:
    now = timezone.now()
    return list(
        Campaign.objects.filter(
            Q(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now)
            | Q(status=Campaign.Status.LAUNCHING, updated_at__lte=now - STALE_LAUNCH)
        ).values_list("id", flat=True)[:100]
    )
