"""Demo data for email to SMS: mail from anyone at example.com may text."""

from __future__ import annotations

from django.conf import settings

from emailsms.models import AllowedSender
from messaging.models import Sender

DEMO_DOMAIN = "@example.com"


def seed() -> list[str]:
    sender = Sender.objects.filter(is_default=True).first()
    if sender is None:
        return []
    _, created = AllowedSender.objects.get_or_create(
        address=DEMO_DOMAIN, defaults={"sender": sender, "note": "Demo: anyone at example.com"}
    )
    if not created:
        return []
    return [
        f"Email to SMS: mail from anyone{DEMO_DOMAIN} to <number>@{settings.EMAIL_TO_SMS_DOMAIN} "
        f"on 127.0.0.1:{settings.EMAIL_TO_SMS_SMTP_PORT} texts from {sender}"
    ]
