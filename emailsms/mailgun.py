"""Mailgun's inbound routes: a route that forwards to
/integrations/email/inbound/mailgun/ posts each mail as form fields, signed with the
account's HTTP webhook signing key. Mailgun does not retry a 406, so a refusal is a
406 with its reason; 200 is taken; anything else makes Mailgun retry."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from emailsms import services
from emailsms.models import Channel
from emailsms.text import cut_reply, html_to_text

log = logging.getLogger(__name__)

# A signed post older (or newer) than this is refused: a captured one cannot be replayed later.
MAX_AGE_SECONDS = 300


def signature_valid(*, key: str, timestamp: str, token: str, signature: str, now: float) -> bool:
    if not (key and timestamp and token and signature):
        return False
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return False
    if age > MAX_AGE_SECONDS:
        return False
    expected = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def _headers_of(post) -> dict[str, str]:
    """The mail's headers from Mailgun's message-headers field (a JSON list of pairs)."""
    try:
        pairs = json.loads(post.get("message-headers") or "[]")
        return {str(name): str(value) for name, value in pairs}
    except (ValueError, TypeError):
        return {}


def _text_of(post) -> str:
    # Mailgun's stripped-text already lacks quotes and signature; ours cuts the rest.
    for field in ("stripped-text", "body-plain"):
        if post.get(field, "").strip():
            return cut_reply(post[field])
    return cut_reply(html_to_text(post.get("stripped-html") or post.get("body-html") or ""))


# Signed by the provider instead of a session and CSRF token.
@csrf_exempt
@require_POST
def inbound(request: HttpRequest) -> JsonResponse:
    post = request.POST
    if not signature_valid(
        key=settings.MAILGUN_WEBHOOK_SIGNING_KEY,
        timestamp=post.get("timestamp", ""),
        token=post.get("token", ""),
        signature=post.get("signature", ""),
        now=time.time(),
    ):
        return JsonResponse({"error": "bad or stale signature"}, status=403)
    if services.is_automatic(_headers_of(post)):
        return JsonResponse({"texts": [], "automatic": True})
    recipients = [r for r in post.get("recipient", "").split(",") if r.strip()]
    try:
        if not recipients:
            raise services.Refused(550, "5.1.3", "no recipient")
        numbers = [services.recipient_number(r) for r in recipients]
        body = _text_of(post)
        accepted = services.email_receive(
            channel=Channel.MAILGUN,
            from_address=post.get("from") or post.get("sender", ""),
            numbers=numbers,
            message_id=services.message_id_of(
                post.get("Message-Id", ""),
                "\n".join(
                    post.get(f, "") for f in ("sender", "Date", "subject", "body-plain")
                ).encode(),
            ),
            subject=post.get("subject", ""),
            text=body,
        )
    except services.Refused as refusal:
        log.info("refused Mailgun mail from %s: %s", post.get("sender"), refusal.reason)
        return JsonResponse({"error": refusal.reason, "smtp": refusal.smtp_reply}, status=406)
    return JsonResponse(
        {
            "texts": [
                {
                    "to": a.text.to_number,
                    "message": str(a.text.sms.uuid) if a.text.sms else None,
                    "duplicate": a.duplicate,
                    "suppressed": a.suppressed,
                }
                for a in accepted
            ]
        }
    )
