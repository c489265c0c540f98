import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class EventType(models.TextChoices):
    MESSAGE_RECEIVED = "message.received", "Message received"
    MESSAGE_STATUS_CHANGED = "message.status_changed", "Message status changed"
    CONTACT_OPTED_OUT = "contact.opted_out", "Contact opted out"
    CONTACT_OPTED_IN = "contact.opted_in", "Contact opted in"
    CAMPAIGN_COMPLETED = "campaign.completed", "Campaign completed"
    # Sent only on demand, from the endpoint's page; nobody subscribes to it.
    TEST = "webhook.test", "Test event"


SUBSCRIBABLE = [(value, label) for value, label in EventType.choices if value != EventType.TEST]


def new_signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class EndpointQuerySet(models.QuerySet):
    def live(self):
        """Not deleted (deleted endpoints are kept: their delivery log stays readable)."""
        return self.filter(deleted_at__isnull=True)


class Endpoint(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="Subscribed event types.")
    secret = models.CharField(max_length=80, default=new_signing_secret)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Start of the current run of failed attempts (None after a success).
    failing_since = models.DateTimeField(null=True, blank=True)
    # Deliveries given up on in a row (reset by any success).
    dead_streak = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = EndpointQuerySet.as_manager()

    def __str__(self) -> str:
        return self.url

    def event_labels(self) -> list[str]:
        labels = dict(EventType.choices)
        return [labels.get(e, e) for e in self.events]


class Event(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="integ_event_recent_idx")]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        FAILED = "failed", "Failed, will retry"
        SUCCEEDED = "succeeded", "Succeeded"
        DEAD = "dead", "Gave up"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # A worker posting it holds it until then; past it, another may take it over.
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The worker: due deliveries, oldest first.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status__in=["pending", "failed"]),
                name="integ_delivery_due_idx",
            ),
            # The endpoint page: its newest deliveries.
            models.Index(fields=["endpoint", "-created_at"], name="integ_delivery_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id}: {self.status}"

    @property
    def retryable(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.FAILED)


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}: {self.status_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
