"""API keys, idempotency records and one-time-password challenges."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Scope(models.TextChoices):
    SEND = "send", "Send messages and one-time passwords"
    CONTACTS = "contacts", "Create and edit contacts, lists and consent"
    CAMPAIGNS = "campaigns", "Create, schedule and cancel campaigns"
    READ = "read", "Read messages, contacts, lists, segments and campaign reports"


class ApiKey(models.Model):
    """A key is shown once as smsw_<prefix>_<secret>; only sha256(secret) is kept."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    # Requests per minute (sliding window).
    rate_limit = models.PositiveIntegerField(default=6000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at", "-id"], name="apikey_list_recent_idx")]

    def __str__(self) -> str:
        return f"{self.name} (smsw_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The first answer to a request carrying an Idempotency-Key. The unique index
    makes a concurrent repeat wait for the first to commit, then replay it."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_once")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_age_idx")]

    def __str__(self) -> str:
        return f"{self.api_key_id}:{self.key}"


class OtpChallenge(models.Model):
    """One code sent to a number. The code itself is never stored: only its HMAC."""

    api_key = models.ForeignKey(ApiKey, null=True, on_delete=models.SET_NULL, related_name="+")
    phone = models.CharField(max_length=20)
    code_hash = models.CharField(max_length=64)
    message_uuid = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Verify: the newest open challenge of a number; the per-number send limit.
            models.Index(fields=["phone", "-created_at"], name="otp_by_phone_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(attempts__lte=models.F("max_attempts")), name="otp_attempts_bounded"
            )
        ]

    def __str__(self) -> str:
        return f"OTP to {self.phone}"
