"""Provider webhooks: receipts and inbound texts, per provider account.

Verified first (403 and nothing changed otherwise), stored before answering,
applied or handed on afterwards."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.core.handlers.wsgi import get_bytes_from_wsgi
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from messaging import inbound, receipts, tasks
from messaging.models import ProviderAccount
from messaging.providers import Backend, WebhookRequest
from messaging.services import backend_of

log = logging.getLogger(__name__)


def webhook_request(request: HttpRequest, backend: Backend) -> WebhookRequest:
    """The call as the backends read it. The query and a urlencoded form are read as
    Django's QueryDict reads them, into plain dicts without building QueryDicts; a
    multipart form (never on messaging.webhook_wsgi's path) through request.POST."""
    body = request.body  # first: a multipart form read first would consume the stream
    form = {}
    if request.method == "POST":
        if request.content_type == "application/x-www-form-urlencoded":
            form = _fields(body)
        elif request.content_type == "multipart/form-data":
            form = {k: v for k, v in request.POST.items()}
    return WebhookRequest(
        method=request.method or "POST",
        url=request.build_absolute_uri() if backend.webhook_signs_url else "",
        headers=headers_of(request.META),
        body=body,
        query=_fields(get_bytes_from_wsgi(request.META, "QUERY_STRING", "")),
        form=form,
    )


def _fields(raw: bytes) -> dict[str, str]:
    """A query string or form body as Django's QueryDict reads it (blank values kept,
    the last of repeated names, the same field limit), as a plain dict."""
    try:
        text = raw.decode(settings.DEFAULT_CHARSET)
    except UnicodeDecodeError:  # as QueryDict: "some user agents are misbehaving"
        text = raw.decode("iso-8859-1")
    try:
        return dict(
            parse_qsl(
                text, keep_blank_values=True, max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
            )
        )
    except ValueError as exc:
        raise TooManyFieldsSent("too many GET/POST parameters") from exc


def headers_of(meta: dict) -> dict[str, str]:
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


def active_account(public_id) -> ProviderAccount | None:
    """The active provider account with this public id (a UUID or its text), or None."""
    key = str(public_id)
    now = time.monotonic()
    cached = _accounts.get(key)
    if cached is None or cached[0] < now:
        account = _stored(
            lambda: ProviderAccount.objects.filter(public_id=public_id, is_active=True).first()
        )
        cached = _accounts[key] = (now + ACCOUNT_TTL, account)
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


Answer = tuple[int, str, bytes]  # (status, content type, body)


def _receipts(account: ProviderAccount, backend: Backend, webhook: WebhookRequest) -> Answer:
    try:
        parsed = backend.parse_receipts(webhook)
    except ValueError as exc:
        return 400, "text/plain", f"not a receipt: {exc}".encode()
    if parsed:
        _stored(lambda: receipts.receipts_store(account=account, receipts=parsed))
        tasks.kick_receipts()
    return backend.webhook_response()


def _inbound(account: ProviderAccount, backend: Backend, webhook: WebhookRequest) -> Answer:
    try:
        texts = backend.parse_inbound(webhook)
    except ValueError as exc:
        return 400, "text/plain", f"not an inbound text: {exc}".encode()
    _stored(lambda: _store_inbound(account, texts))
    return backend.webhook_response()


KINDS = {"receipts": _receipts, "inbound": _inbound}


def webhook_answer(
    kind: str, account: ProviderAccount, backend: Backend, webhook: WebhookRequest, remote
) -> Answer:
    """Verify a provider's webhook call (403 and nothing changed otherwise), store
    what it carries before answering, and say what to answer. `kind` is "receipts"
    or "inbound"; `backend` is backend_of(account); `remote` the caller's address,
    for the log. Django's views below and messaging.webhook_wsgi (the same paths
    without Django's request cycle) both answer with it."""
    if not backend.verify_webhook(webhook):
        log.warning("webhook rejected: bad signature (account %s, from %s)", account.name, remote)
        return 403, "text/plain", b"invalid signature"
    return KINDS[kind](account, backend, webhook)


def _respond(kind: str, request: HttpRequest, public_id) -> HttpResponse:
    account = active_account(public_id)
    if account is None:
        raise Http404("no such provider account")
    backend = backend_of(account)
    webhook = webhook_request(request, backend)
    status, content_type, body = webhook_answer(
        kind, account, backend, webhook, request.META.get("REMOTE_ADDR")
    )
    return HttpResponse(body, status=status, content_type=content_type)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receipt_webhook(request: HttpRequest, public_id) -> HttpResponse:
    return _respond("receipts", request, public_id)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def inbound_webhook(request: HttpRequest, public_id) -> HttpResponse:
    return _respond("inbound", request, public_id)


def _store_inbound(account: ProviderAccount, texts) -> None:
    with transaction.atomic():
        inbound.inbound_store(account=account, texts=texts)
