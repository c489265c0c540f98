"""Campaign writes: schedule, approve, pause, resume, cancel, complete, recur."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from campaigns.audience import local_launch_time
from campaigns.launch import links_save
from campaigns.models import Campaign, CampaignSettings
from messaging.models import Message, Status
from messaging.services import messages_cancel
from smsworks.permissions import can

ACTIVE = (Campaign.Status.LAUNCHING, Campaign.Status.SENDING, Campaign.Status.PAUSED)

# A campaign finished sending (sent inside the transaction that marked it). Keyword: campaign_id.
campaign_completed = Signal()


def _move(campaign: Campaign, from_statuses, to_status: str, **fields) -> bool:
    """Change status with a conditional update; False when another request won."""
    changed = Campaign.objects.filter(pk=campaign.pk, status__in=list(from_statuses)).update(
        status=to_status, updated_at=timezone.now(), **fields
    )
    if changed:
        campaign.refresh_from_db()
    return bool(changed)


def campaign_check(campaign: Campaign) -> None:
    problems = []
    if not campaign.body.strip():
        problems.append("The message is empty.")
    if not (campaign.lists.exists() or campaign.segments.exists()):
        problems.append("Choose at least one list or segment.")
    if not campaign.sender.is_active:
        problems.append("The sender is switched off.")
    if campaign.schedule == Campaign.Schedule.AT and not campaign.scheduled_at:
        problems.append("Choose the date and time to send.")
    if campaign.schedule == Campaign.Schedule.LOCAL and not (
        campaign.scheduled_at and campaign.local_time
    ):
        problems.append("Choose the day and the local time to send.")
    if campaign.schedule == Campaign.Schedule.RECURRING and not (
        campaign.recurrence and campaign.scheduled_at
    ):
        problems.append("Choose how often and from when the campaign repeats.")
    if problems:
        raise ValidationError(problems)


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, by: AbstractBaseUser) -> Campaign:
    """Submit a draft: straight to scheduled, or to approval when the workspace asks
    for it and the user may not approve."""
    campaign_check(campaign)
    links_save(campaign)
    if CampaignSettings.load().require_approval and not can(by, "campaigns_approve"):
        if not _move(campaign, [Campaign.Status.DRAFT], Campaign.Status.PENDING_APPROVAL):
            raise ValidationError("This campaign was already submitted.")
        return campaign
    return _release(campaign, [Campaign.Status.DRAFT], approved_by=None)


@transaction.atomic
def campaign_approve(*, campaign: Campaign, by: AbstractBaseUser) -> Campaign:
    return _release(campaign, [Campaign.Status.PENDING_APPROVAL], approved_by=by)


def _release(campaign: Campaign, from_statuses, approved_by) -> Campaign:
    now = timezone.now()
    fields = {"approved_by": approved_by} if approved_by else {}
    if campaign.schedule == Campaign.Schedule.RECURRING:
        if not _move(campaign, from_statuses, Campaign.Status.RECURRING, **fields):
            raise ValidationError("This campaign was already scheduled.")
        from campaigns.recurring import recurrence_install

        recurrence_install(campaign)
        return campaign
    if campaign.schedule == Campaign.Schedule.NOW:
        fields["scheduled_at"] = now
    elif campaign.schedule == Campaign.Schedule.LOCAL:
        fields["scheduled_at"] = local_launch_time(
            timezone.localdate(campaign.scheduled_at), campaign.local_time
        )
    if not _move(campaign, from_statuses, Campaign.Status.SCHEDULED, **fields):
        raise ValidationError("This campaign was already scheduled.")
    if campaign.scheduled_at <= now + timedelta(seconds=1):
        from campaigns import tasks

        campaign_id = campaign.pk
        transaction.on_commit(lambda: tasks.launch.delay(campaign_id))
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign) -> int:
    if not _move(campaign, [Campaign.Status.SENDING], Campaign.Status.PAUSED):
        raise ValidationError("Only a sending campaign can be paused.")
    return Message.objects.filter(campaign_id=campaign.pk, status=Status.QUEUED).update(held=True)


@transaction.atomic
def campaign_resume(*, campaign: Campaign) -> int:
    if not _move(campaign, [Campaign.Status.PAUSED], Campaign.Status.SENDING):
        raise ValidationError("Only a paused campaign can be resumed.")
    released = Message.objects.filter(campaign_id=campaign.pk, status=Status.QUEUED).update(
        held=False
    )
    from messaging import tasks

    sender_id = campaign.sender_id
    transaction.on_commit(lambda: tasks.kick_dispatch(sender_id, "bulk"))
    return released


@transaction.atomic
def campaign_cancel(*, campaign: Campaign) -> dict[str, int]:
    """Stop it: nothing still queued will leave. Returns what was cancelled and
    how many were already with the provider (in flight) when it was confirmed."""
    cancellable = [
        Campaign.Status.DRAFT,
        Campaign.Status.PENDING_APPROVAL,
        Campaign.Status.SCHEDULED,
        Campaign.Status.RECURRING,
        *ACTIVE,
    ]
    now = timezone.now()
    if not _move(campaign, cancellable, Campaign.Status.CANCELLED, cancelled_at=now):
        raise ValidationError("This campaign has already finished.")
    if campaign.periodic_task_id:
        from campaigns.recurring import recurrence_remove

        recurrence_remove(campaign)
    cancelled = messages_cancel(Q(campaign_id=campaign.pk))
    in_flight = Message.objects.filter(campaign_id=campaign.pk, status=Status.SENDING).count()
    return {"cancelled": cancelled, "in_flight": in_flight}


def campaigns_complete() -> int:
    """Mark sending campaigns with nothing left queued or in flight as completed."""
    done = 0
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.SENDING).values_list(
        "id", flat=True
    ):
        if not Message.objects.filter(
            campaign_id=campaign_id, status__in=[Status.QUEUED, Status.SENDING]
        ).exists():
            with transaction.atomic():
                completed = Campaign.objects.filter(
                    pk=campaign_id, status=Campaign.Status.SENDING
                ).update(status=Campaign.Status.COMPLETED, completed_at=timezone.now())
                if completed:
                    campaign_completed.send(sender=Campaign, campaign_id=campaign_id)
            done += completed
    return done
