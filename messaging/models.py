import secrets
import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact


class Backend(models.TextChoices):
    SMSWORKS = "smsworks", "The SMS Works"
    TWILIO = "twilio", "Twilio"
    VONAGE = "vonage", "Vonage"
    CONSOLE = "console", "Console (development)"


def _webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class ProviderAccount(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    backend = models.CharField(max_length=20, choices=Backend.choices)
    base_url = models.URLField(blank=True, help_text="Empty: the provider's own API address.")
    # Secrets live here and are never shown back in full (see credentials_masked).
    credentials = models.JSONField(default=dict, blank=True)
    webhook_secret = models.CharField(max_length=64, default=_webhook_secret)
    default_price = models.DecimalField(
        max_digits=8, decimal_places=4, default=Decimal("0.0400"), help_text="Per segment."
    )
    prices = models.JSONField(
        default=dict, blank=True, help_text='Per destination country, e.g. {"GB": "0.035"}.'
    )
    timeout_seconds = models.FloatField(default=10.0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    def price_for(self, country: str) -> Decimal:
        value = self.prices.get(country)
        return Decimal(str(value)) if value is not None else self.default_price


class Sender(models.Model):
    class Kind(models.TextChoices):
        LONG_NUMBER = "long_number", "Long number"
        SHORT_CODE = "short_code", "Short code"
        ALPHANUMERIC = "alphanumeric", "Alphanumeric sender ID"

    account = models.ForeignKey(ProviderAccount, on_delete=models.PROTECT, related_name="senders")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LONG_NUMBER)
    value = models.CharField(max_length=20, help_text="E.164 number, short code or sender ID.")
    label = models.CharField(max_length=100, blank=True)
    messages_per_second = models.PositiveIntegerField(default=10)
    # Free-form tags ("virtual reply number" metadata) that routing and webhooks carry.
    metadata = models.JSONField(default=dict, blank=True)
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["value"], name="sender_value_unique"),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="sender_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.value})" if self.label else self.value

    @property
    def can_receive(self) -> bool:
        return self.kind != self.Kind.ALPHANUMERIC


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    RECEIVED = "received", "Received"


# Status only moves forward: a status may replace only those of a lower rank.
STATUS_RANK = {
    Status.QUEUED: 0,
    Status.SENDING: 1,
    Status.SENT: 2,
    Status.DELIVERED: 3,
    Status.UNDELIVERED: 3,
    Status.FAILED: 3,
    Status.SUPPRESSED: 3,
    Status.CANCELLED: 3,
    Status.EXPIRED: 3,
    Status.RECEIVED: 3,
}
FINAL_STATUSES = frozenset(s for s, rank in STATUS_RANK.items() if rank == 3)


def statuses_below(status: str) -> list[str]:
    rank = STATUS_RANK[status]
    return [s.value for s, r in STATUS_RANK.items() if r < rank]


class Direction(models.TextChoices):
    OUTBOUND = "out", "Outbound"
    INBOUND = "in", "Inbound"


class Priority(models.TextChoices):
    TRANSACTIONAL = "transactional", "Transactional"
    BULK = "bulk", "Bulk"


class Message(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    account = models.ForeignKey(ProviderAccount, on_delete=models.PROTECT, related_name="+")
    sender = models.ForeignKey(
        Sender, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_number = models.CharField(max_length=20)
    to_number = models.CharField(max_length=20)
    # No index of its own: message_by_contact_idx (contact, -created_at) answers lookups
    # by contact (SET_NULL on delete included); a second one cost every status write.
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
    )
    # campaigns.Campaign id: a plain column because messaging never depends on campaigns.
    campaign_id = models.BigIntegerField(null=True, blank=True)
    body = models.TextField()
    encoding = models.CharField(max_length=8, blank=True)
    segments = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.BULK)
    # Not before this time: local-time schedules, quiet hours and retry backoff.
    send_after = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_message_id = models.CharField(max_length=100, blank=True)
    provider_response = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_reason = models.TextField(blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    undelivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    suppressed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    # body is a template with merge fields, rendered when the row is claimed.
    merge = models.BooleanField(default=False)
    # Paused (campaign paused): not claimed until released.
    held = models.BooleanField(default=False)
    # The confirmation of an opt-out: the one message an opted-out number may get.
    compliance = models.BooleanField(default=False)
    # Inbound only: when keyword handling and the inbox hook finished with it.
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign_id", "contact"],
                condition=Q(campaign_id__isnull=False, contact__isnull=False),
                name="message_once_per_campaign_contact",
            ),
            # Inbound texts are stored once per provider id (webhooks are retried).
            models.UniqueConstraint(
                fields=["account", "direction", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_provider_id_unique",
            ),
        ]
        indexes = [
            # Dispatch: due queued rows of one sender, transactional first.
            models.Index(
                fields=["sender", "priority", "send_after", "id"],
                condition=Q(status="queued", held=False),
                name="message_dispatch_queue_idx",
            ),
            # Reconcile: rows whose sending lease ran out.
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="sending"),
                name="message_sending_lease_idx",
            ),
            # Message log: newest first, keyset pagination.
            models.Index(fields=["-created_at", "-id"], name="message_log_recent_idx"),
            models.Index(fields=["to_number", "-created_at"], name="message_by_to_idx"),
            models.Index(fields=["from_number", "-created_at"], name="message_by_from_idx"),
            models.Index(fields=["contact", "-created_at"], name="message_by_contact_idx"),
            # Campaign counts (list, report): an index-only GROUP BY status, cost included.
            models.Index(
                fields=["campaign_id", "status"],
                include=["cost"],
                name="message_campaign_status_idx",
            ),
            models.Index(
                fields=["received_at"],
                condition=Q(direction="in", processed_at__isnull=True),
                name="message_inbound_todo_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.uuid} {self.status}"

    def timeline(self) -> list[tuple[str, object]]:
        """The statuses this message reached, oldest first."""
        steps = [(s.label, getattr(self, f"{s.value}_at", None)) for s in Status]
        return sorted(((label, when) for label, when in steps if when), key=lambda s: s[1])


class PendingReceipt(models.Model):
    """A delivery receipt as it arrived: stored before the webhook answers, then
    applied to its message in bulk. Kept until applied (a receipt may arrive
    before the send result that carries the provider id is recorded)."""

    # No database constraint and no index of its own: every receipt's INSERT paid for
    # both, and the constraint's check at commit locks the account's row (FOR KEY
    # SHARE) from every concurrent webhook call. The account is known to exist when
    # a receipt is stored (its webhook URL names it); deleting an account deletes its
    # receipts through the ORM (a short, unindexed table: receipts are applied within
    # seconds), and applying matches messages on (account, provider id) in any case.
    account = models.ForeignKey(
        ProviderAccount,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    provider_message_id = models.CharField(max_length=100)
    reference = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    occurred_at = models.DateTimeField()
    error_code = models.CharField(max_length=40, blank=True)
    error_reason = models.TextField(blank=True)
    raw = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    opted_out = models.BooleanField(default=False)  # the provider says the recipient opted out

    class Meta:
        indexes = [models.Index(fields=["received_at", "id"], name="receipt_pending_fifo_idx")]

    def __str__(self) -> str:
        return f"{self.provider_message_id} {self.status}"


class RateBucket(models.Model):
    """Token bucket per sender for installs without Redis (shared by all workers
    through a row lock). With Redis the bucket lives there instead."""

    sender = models.OneToOneField(Sender, on_delete=models.CASCADE, primary_key=True)
    tokens = models.FloatField(default=0)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.sender_id}: {self.tokens:.1f}"
