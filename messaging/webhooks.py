"""Provider webhooks: receipts and inbound texts, per provider account.

Verified first (403 and nothing changed otherwise), stored before answering,
applied or handed on afterwards."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from messaging import inbound, receipts, tasks
from messaging.models import ProviderAccount
from messaging.providers import WebhookRequest
from messaging.services import backend_of

log = logging.getLogger(__name__)


def _webhook_request(request: HttpRequest) -> WebhookRequest:
    form = {}
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = {k: v for k, v in request.POST.items()}
    return WebhookRequest(
        method=request.method or "POST",
        url=request.build_absolute_uri(),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=request.body,
        query={k: v for k, v in request.GET.items()},
        form=form,
    )


def _verified(request: HttpRequest, public_id):
    account = get_object_or_404(ProviderAccount, public_id=public_id, is_active=True)
    backend = backend_of(account)
    webhook = _webhook_request(request)
    if not backend.verify_webhook(webhook):
        log.warning(
            "webhook rejected: bad signature (account %s, from %s)",
            account.name,
            request.META.get("REMOTE_ADDR"),
        )
        return account, backend, None
    return account, backend, webhook


def _answer(backend) -> HttpResponse:
    status, content_type, body = backend.webhook_response()
    return HttpResponse(body, status=status, content_type=content_type)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receipt_webhook(request: HttpRequest, public_id) -> HttpResponse:
    account, backend, webhook = _verified(request, public_id)
    if webhook is None:
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    try:
        parsed = backend.parse_receipts(webhook)
    except ValueError as exc:
        return HttpResponse(f"not a receipt: {exc}", status=400, content_type="text/plain")
    if parsed:
        receipts.receipts_store(account=account, receipts=parsed)
        tasks.kick_receipts()
    return _answer(backend)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def inbound_webhook(request: HttpRequest, public_id) -> HttpResponse:
    account, backend, webhook = _verified(request, public_id)
    if webhook is None:
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    try:
        texts = backend.parse_inbound(webhook)
    except ValueError as exc:
        return HttpResponse(f"not an inbound text: {exc}", status=400, content_type="text/plain")
    with transaction.atomic():
        inbound.inbound_store(account=account, texts=texts)
    return _answer(backend)
