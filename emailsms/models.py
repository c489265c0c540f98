"""Email-to-SMS: who may send, each mail turned into a text, and replies mailed back."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class AllowedSender(models.Model):
    """An email address (ada@example.com) or a whole domain (@example.com) that may
    send texts, and the platform sender number its texts go out from."""

    address = models.CharField(
        max_length=254,
        help_text="An address (ada@example.com) or a whole domain (@example.com).",
    )
    sender = models.ForeignKey(
        "messaging.Sender", on_delete=models.PROTECT, related_name="email_senders"
    )
    note = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["address"]
        constraints = [
            models.UniqueConstraint(Lower("address"), name="emailsms_allowed_address_unique"),
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def is_domain(self) -> bool:
        return self.address.startswith("@")


class Channel(models.TextChoices):
    SMTP = "smtp", "SMTP listener"
    MAILGUN = "mailgun", "Mailgun route"


class EmailText(models.Model):
    """One mail to one number, turned into one SMS. Unique per Message-ID and number,
    so a mail delivered twice (a retrying mail server) sends nothing twice."""

    message_id = models.CharField(max_length=500)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    from_address = models.CharField(max_length=254)
    subject = models.CharField(max_length=500, blank=True)
    to_number = models.CharField(max_length=20)
    # The platform number the text went out from: an SMS reply to it comes back here.
    platform_number = models.CharField(max_length=20)
    allowed_sender = models.ForeignKey(
        AllowedSender, null=True, blank=True, on_delete=models.SET_NULL, related_name="texts"
    )
    body = models.TextField()
    sms = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message_id", "to_number"], name="emailsms_text_once_per_mail_number"
            ),
        ]
        indexes = [
            # Replies: the latest mail that texted this number from this platform number.
            models.Index(
                fields=["to_number", "platform_number", "-created_at"],
                name="emailsms_text_reply_idx",
            ),
            models.Index(fields=["-created_at", "-id"], name="emailsms_text_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.from_address} -> {self.to_number}"


class EmailReply(models.Model):
    """An SMS reply mailed back to the person who texted: an outbox row, claimed
    before the mail server is called and retried with backoff when it fails."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    text = models.ForeignKey(EmailText, on_delete=models.CASCADE, related_name="replies")
    inbound = models.OneToOneField(
        "messaging.Message", on_delete=models.CASCADE, related_name="email_reply"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    mail_message_id = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="emailsms_reply_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"reply {self.pk} {self.status}"
