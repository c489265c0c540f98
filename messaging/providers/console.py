"""A development backend: writes each message to the log instead of sending it.

Receipts and inbound texts are simple JSON bodies, so a developer can play the
provider with curl:

    curl -X POST "$RECEIPT_URL?token=..." -d '{"id": "console-...", "status": "delivered"}'
    curl -X POST "$INBOUND_URL?token=..." -d '{"from": "+447700900123", "to": "+447700900000", "body": "STOP"}'
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from messaging.providers.base import (
    RECEIPT_STATUSES,
    Backend,
    InboundSMS,
    OutboundSMS,
    Receipt,
    SendResult,
    WebhookRequest,
)

logger = logging.getLogger("messaging.console")


class ConsoleBackend(Backend):
    kind = "console"
    label = "Console (development)"
    max_concurrency = 1  # nothing to wait for; keeps the log in order

    def send(self, message: OutboundSMS) -> SendResult:
        provider_message_id = f"console-{uuid.uuid4().hex}"
        logger.info(
            "SMS %s from %s to %s (ref %s): %s",
            provider_message_id,
            message.sender,
            message.to,
            message.reference,
            message.body,
        )
        return SendResult(reference=message.reference, provider_message_id=provider_message_id)

    def parse_receipts(self, request: WebhookRequest) -> list[Receipt]:
        receipts = []
        for item in _json_objects(request):
            message_id, status = str(item.get("id") or ""), str(item.get("status") or "")
            if not message_id or status not in RECEIPT_STATUSES:
                raise ValueError(
                    f'a receipt needs "id" and "status" (one of {sorted(RECEIPT_STATUSES)})'
                )
            receipts.append(
                Receipt(
                    provider_message_id=message_id,
                    status=status,
                    reference=str(item.get("reference") or ""),
                    error_code=str(item.get("error_code") or ""),
                    error_reason=str(item.get("error_reason") or ""),
                    raw=item,
                )
            )
        return receipts

    def parse_inbound(self, request: WebhookRequest) -> list[InboundSMS]:
        texts = []
        for item in _json_objects(request):
            if not item.get("from") or not item.get("to") or "body" not in item:
                raise ValueError('an inbound text needs "from", "to" and "body"')
            texts.append(
                InboundSMS(
                    # Optional so a quick curl works; give one to test deduplication.
                    provider_message_id=str(item.get("id") or f"console-in-{uuid.uuid4().hex}"),
                    from_number=str(item["from"]),
                    to_number=str(item["to"]),
                    body=str(item["body"]),
                    raw=item,
                )
            )
        return texts


def _json_objects(request: WebhookRequest) -> list[dict[str, Any]]:
    """One JSON object, or a list of them."""
    try:
        data = json.loads(request.body or b"null")
    except ValueError as exc:
        raise ValueError("the body is not JSON") from exc
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) for item in items):
        raise ValueError("expected a JSON object or a list of objects")
    return items
