"""Recurring campaigns: a django-celery-beat task starts one run per period; each
run is a campaign of its own, reported separately. Runs never overlap."""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from campaigns.models import Campaign

log = logging.getLogger(__name__)


def _crontab(campaign: Campaign) -> CrontabSchedule:
    start = timezone.localtime(campaign.scheduled_at)
    fields = {"minute": str(start.minute), "hour": str(start.hour)}
    if campaign.recurrence == Campaign.Recurrence.WEEKLY:
        fields["day_of_week"] = str(start.isoweekday() % 7)
    elif campaign.recurrence == Campaign.Recurrence.MONTHLY:
        fields["day_of_month"] = str(start.day)
    schedule, _ = CrontabSchedule.objects.get_or_create(
        timezone=timezone.get_current_timezone_name(), **fields
    )
    return schedule


def recurrence_install(campaign: Campaign) -> PeriodicTask:
    task = PeriodicTask.objects.create(
        name=f"campaign {campaign.pk}: {campaign.name}"[:200],
        task="campaigns.run_recurring",
        crontab=_crontab(campaign),
        args=json.dumps([campaign.pk]),
        start_time=campaign.scheduled_at,
    )
    Campaign.objects.filter(pk=campaign.pk).update(periodic_task=task)
    return task


def recurrence_remove(campaign: Campaign) -> None:
    PeriodicTask.objects.filter(pk=campaign.periodic_task_id).delete()


@transaction.atomic
def run_recurring(*, campaign_id: int) -> Campaign | None:
    """Start one run, unless the previous one is still going."""
    template = Campaign.objects.select_for_update().get(pk=campaign_id)
    if template.status != Campaign.Status.RECURRING:
        return None
    busy = template.runs.filter(
        status__in=[
            Campaign.Status.SCHEDULED,
            Campaign.Status.LAUNCHING,
            Campaign.Status.SENDING,
            Campaign.Status.PAUSED,
        ]
    ).exists()
    if busy:
        log.warning("campaign %s: previous run still going, this period is skipped", campaign_id)
        return None
    now = timezone.now()
    run = Campaign.objects.create(
        name=f"{template.name} ({timezone.localtime(now):%Y-%m-%d %H:%M})",
        sender=template.sender,
        body=template.body,
        opt_out_footer=template.opt_out_footer,
        shorten_links=template.shorten_links,
        utm=template.utm,
        schedule=Campaign.Schedule.NOW,
        scheduled_at=now,
        respect_quiet_hours=template.respect_quiet_hours,
        spread_minutes=template.spread_minutes,
        parent=template,
        status=Campaign.Status.SCHEDULED,
        created_by=template.created_by,
        approved_by=template.approved_by,
    )
    run.lists.set(template.lists.all())
    run.segments.set(template.segments.all())
    run.exclude_lists.set(template.exclude_lists.all())
    run.exclude_segments.set(template.exclude_segments.all())
    from campaigns.launch import links_save

    links_save(run)
    from campaigns import tasks

    transaction.on_commit(lambda: tasks.launch.delay(run.pk))
    return run
