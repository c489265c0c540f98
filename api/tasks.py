from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from api import conf
from api.models import IdempotencyRecord, OtpChallenge


@shared_task(name="api.purge")
def purge() -> dict[str, int]:
    """Forget idempotency records past their time and day-old OTP challenges."""
    now = timezone.now()
    keys, _ = IdempotencyRecord.objects.filter(
        created_at__lt=now - timedelta(hours=conf.get("API_IDEMPOTENCY_HOURS"))
    ).delete()
    codes, _ = OtpChallenge.objects.filter(created_at__lt=now - timedelta(days=1)).delete()
    return {"idempotency": keys, "otp": codes}
