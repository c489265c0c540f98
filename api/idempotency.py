"""Idempotency-Key: a repeat of a request (same key, same body) gets the first
answer again and does nothing; the same key with another body is refused (422).

The record is inserted first, in the same transaction as the work: a concurrent
repeat blocks on the unique (api_key, key) index until the first commits, then
replays its answer. A request that fails leaves no record, so it can be retried."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from api.errors import ApiError
from api.models import IdempotencyRecord

HEADER = "Idempotency-Key"
META_KEY = "HTTP_IDEMPOTENCY_KEY"


def _fingerprint(request) -> str:
    payload = json.dumps(
        [request.method, request.path, request.data], sort_keys=True, cls=JSONEncoder
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _jsonable(data):
    return json.loads(json.dumps(data, cls=JSONEncoder))


def run(request, work: Callable[[], Response]) -> Response:
    """Run `work` (which writes and returns the response) at most once per key."""
    # META, not request.headers: that builds a map of every header on first use.
    key = request.META.get(META_KEY)
    if key is None:
        # The send path is atomic itself; no outer transaction (two round trips fewer).
        return work()
    if not key or len(key) > 255 or not key.isprintable():
        raise ApiError(
            "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 printable characters."
        )
    principal = request.auth
    fingerprint = _fingerprint(request)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    api_key_id=principal.id,
                    key=key,
                    method=request.method,
                    path=request.path[:255],
                    request_hash=fingerprint,
                )
        except IntegrityError:
            return _replay(principal.id, key, fingerprint)
        response = work()
        record.status_code = response.status_code
        record.response = _jsonable(response.data)
        record.save(update_fields=["status_code", "response"])
    return response


def _replay(api_key_id: int, key: str, fingerprint: str) -> Response:
    record = IdempotencyRecord.objects.filter(api_key_id=api_key_id, key=key).first()
    if record is None or record.status_code == 0:
        raise ApiError(
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still being processed.",
            status_code=409,
        )
    if record.request_hash != fingerprint:
        raise ApiError(
            "idempotency_key_reused",
            "This Idempotency-Key was used for a different request.",
            status_code=422,
        )
    return Response(
        record.response, status=record.status_code, headers={"Idempotent-Replayed": "true"}
    )
