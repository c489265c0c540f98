"""Provider webhooks: receipts and inbound texts, per provider account.

Verified first (403 and nothing changed otherwise), stored before answering,
applied or handed on afterwards."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
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
        headers=_headers(request.META),
        body=request.body,
        query={k: v for k, v in request.GET.items()},
        form=form,
    )


def _headers(meta: dict) -> dict[str, str]:
    """request.headers with lower-cased names, without building HttpHeaders (a tenth
    of a receipt's CPU in the web process)."""
    headers = {
        name[5:].replace("_", "-").lower(): value
        for name, value in meta.items()
        if name.startswith("HTTP_")
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if name in meta:
            headers[name.replace("_", "-").lower()] = meta[name]
    return headers


T = TypeVar("T")

# Provider accounts by public id, per process, for a few seconds: a webhook then
# costs one statement (the INSERT), not two. Saving or deleting an account clears
# this process's copy at once; other processes see the change within ACCOUNT_TTL.
ACCOUNT_TTL = 5.0
_accounts: dict[str, tuple[float, ProviderAccount | None]] = {}


@receiver(post_save, sender=ProviderAccount)
@receiver(post_delete, sender=ProviderAccount)
def _forget_accounts(**kwargs) -> None:
    _accounts.clear()


def _account(public_id) -> ProviderAccount:
    key = str(public_id)
    now = time.monotonic()
    cached = _accounts.get(key)
    if cached is None or cached[0] < now:
        account = _stored(
            lambda: ProviderAccount.objects.filter(public_id=public_id, is_active=True).first()
        )
        cached = _accounts[key] = (now + ACCOUNT_TTL, account)
    if cached[1] is None:
        raise Http404("no such provider account")
    return cached[1]


def _stored(write: Callable[[], T]) -> T:
    """Run a webhook's single statement without Django's per-request `SELECT 1`
    connection check (a round trip on every receipt). If the connection turns out
    to be dead, run it once more on a new one: each statement here is its own
    transaction, and a receipt or inbound text stored twice is harmless (applying
    receipts is idempotent; inbound texts are unique per provider id)."""
    connection.health_check_done = True
    try:
        return write()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        log.warning("webhook: database connection lost, retrying once on a new one")
        connection.close()
        return write()


def _verified(request: HttpRequest, public_id):
    account = _account(public_id)
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
        _stored(lambda: receipts.receipts_store(account=account, receipts=parsed))
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
    _stored(lambda: _store_inbound(account, texts))
    return _answer(backend)


def _store_inbound(account: ProviderAccount, texts) -> None:
    with transaction.atomic():
        inbound.inbound_store(account=account, texts=texts)
