from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q

from contacts.models import ContactList, Segment
from messaging.models import Sender


class CampaignSettings(models.Model):
    """The workspace's campaign rules (one row)."""

    require_approval = models.BooleanField(
        default=False, help_text="A Marketer submits; an Admin approves before anything is sent."
    )
    quiet_start = models.TimeField(default=time(21, 0), help_text="Recipient's local time.")
    quiet_end = models.TimeField(default=time(8, 0))
    default_time_zone = models.CharField(
        max_length=64, default="Europe/London", help_text="For contacts whose time zone is unknown."
    )
    opt_out_footer = models.CharField(max_length=100, default="Reply STOP to opt out")

    def __str__(self) -> str:
        return "Campaign settings"

    @classmethod
    def load(cls) -> "CampaignSettings":
        settings_row, _ = cls.objects.get_or_create(pk=1)
        return settings_row


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING_APPROVAL = "pending_approval", "Waiting for approval"
        SCHEDULED = "scheduled", "Scheduled"
        LAUNCHING = "launching", "Launching"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        RECURRING = "recurring", "Recurring"

    class Schedule(models.TextChoices):
        NOW = "now", "Send now"
        AT = "at", "At a date and time"
        LOCAL = "local", "At a local time in each recipient's time zone"
        RECURRING = "recurring", "Recurring"

    class Recurrence(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    name = models.CharField(max_length=150)
    sender = models.ForeignKey(Sender, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(help_text="Merge fields: {{ first_name | there }}")
    opt_out_footer = models.BooleanField(default=True)
    shorten_links = models.BooleanField(default=True)
    utm = models.CharField(
        max_length=200,
        blank=True,
        help_text="Appended to links, e.g. utm_source=sms&utm_campaign=spring",
    )
    lists = models.ManyToManyField(ContactList, blank=True, related_name="+")
    segments = models.ManyToManyField(Segment, blank=True, related_name="+")
    exclude_lists = models.ManyToManyField(ContactList, blank=True, related_name="+")
    exclude_segments = models.ManyToManyField(Segment, blank=True, related_name="+")

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    schedule = models.CharField(max_length=10, choices=Schedule.choices, default=Schedule.NOW)
    scheduled_at = models.DateTimeField(null=True, blank=True)  # NOW/AT: when; LOCAL: the date
    local_time = models.TimeField(null=True, blank=True)
    recurrence = models.CharField(max_length=10, choices=Recurrence.choices, blank=True)
    respect_quiet_hours = models.BooleanField(default=True)
    spread_minutes = models.PositiveIntegerField(
        default=0,
        help_text="Spread the sends evenly over this many minutes (0: as fast as allowed).",
    )
    # A recurring campaign is a template; each run is a campaign of its own.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL
    )

    # Filled at launch; the live counts come from the messages themselves.
    recipients = models.PositiveIntegerField(default=0)
    suppressed = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="campaign_list_recent_idx"),
            models.Index(
                fields=["scheduled_at"], condition=Q(status="scheduled"), name="campaign_due_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in (
            self.Status.DRAFT,
            self.Status.PENDING_APPROVAL,
            self.Status.SCHEDULED,
        )


class CampaignLink(models.Model):
    """A URL found in a campaign body; the body names it as {{ link:N }}."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="links")
    index = models.PositiveSmallIntegerField()
    url = models.URLField(max_length=2000)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "index"], name="campaign_link_index_unique")
        ]

    def __str__(self) -> str:
        return self.url


class Click(models.Model):
    message = models.ForeignKey("messaging.Message", on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="clicks")
    link = models.ForeignKey(CampaignLink, on_delete=models.CASCADE, related_name="clicks")
    contact = models.ForeignKey(
        "contacts.Contact", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    clicked_at = models.DateTimeField(auto_now_add=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "message"], name="click_by_campaign_idx"),
            models.Index(fields=["contact", "-clicked_at"], name="click_by_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"click on {self.link_id} by {self.message_id}"
