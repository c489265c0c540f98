"""The SMS Works (https://thesmsworks.co.uk): JSON over HTTPS, a JWT in the
Authorization header.

Wire contract: their OpenAPI file (TheSMSWorks/smsw-java-sdk, api/openapi.yaml)
for the API; docs/providers/smsworks.md for the webhook bodies the spec leaves
out. Our Message.uuid travels as the message `tag` and as the metadata pair
`reference`: the batch endpoint answers with a batch id only, so the tag is how
a batch listing, a lookup and a receipt find our message again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from messaging.providers.base import (
    AccountConfig,
    Backend,
    InboundSMS,
    OutboundSMS,
    ProviderError,
    Receipt,
    SendResult,
    WebhookRequest,
)

REFERENCE_KEY = "reference"  # metadata key that carries our Message.uuid
OPTED_OUT_CODE = 1030  # ExtendedError.errorCode / failurereason.code: recipient opted out
TRANSIENT_HTTP = frozenset({408, 425, 429})
BATCH_OFF = frozenset({"off", "false", "no", "0"})

# Their message statuses -> ours (messaging.models.Status).
STATUS_MAP = {
    "SENT": "sent",
    "DELIVERED": "delivered",
    "UNDELIVERABLE": "undelivered",
    "UNDELIVERED": "undelivered",
    "EXPIRED": "undelivered",
    "REJECTED": "failed",
    "FAILED": "failed",
}
REJECTED_STATUSES = frozenset({"REJECTED", "FAILED"})


class SMSWorksBackend(Backend):
    kind = "smsworks"
    label = "The SMS Works"
    default_base_url = "https://api.thesmsworks.co.uk"
    # The API token the dashboard shows ("JWT eyJ..."; the "JWT " prefix is optional here).
    credential_fields = ("jwt",)
    secret_credentials = frozenset({"jwt"})
    max_batch = 5000

    def __init__(self, config: AccountConfig, client: httpx.Client | None = None) -> None:
        super().__init__(config, client)
        # credentials["use_batch"] = "off": one POST /v1/message/send per message (run
        # concurrently by the base class), for accounts whose plan has no batch endpoint.
        if str(config.credentials.get("use_batch", "on")).strip().lower() in BATCH_OFF:
            self.max_batch = 1

    # --- sending ---
    def send(self, message: OutboundSMS) -> SendResult:
        data = self._call("POST", "/v1/message/send", payload=self._message_body(message))
        if not isinstance(data, dict) or not data.get("messageid"):
            raise ProviderError(
                "The SMS Works answered without a messageid", permanent=False, raw=_as_dict(data)
            )
        return _result_from_message(message.reference, data)

    def send_batch(self, messages: Sequence[OutboundSMS]) -> list[SendResult]:
        if self.max_batch <= 1:
            return super().send_batch(messages)
        results: list[SendResult] = []
        for start in range(0, len(messages), self.max_batch):
            results.extend(self._send_chunk(messages[start : start + self.max_batch]))
        return results

    def _send_chunk(self, chunk: Sequence[OutboundSMS]) -> list[SendResult]:
        try:
            data = self._call(
                "POST", "/v1/batch/any", payload=[self._message_body(m) for m in chunk]
            )
        except ProviderError as exc:
            return [SendResult(reference=m.reference, error=exc) for m in chunk]
        batch_id = str(data.get("batchid", "")) if isinstance(data, dict) else ""
        listed: dict[str, dict] = {}
        if batch_id:
            try:
                for item in _as_list(self._call("GET", f"/v1/batch/{batch_id}")):
                    reference = _reference_of(item, strict=False)
                    if reference:
                        listed[reference] = item
            except ProviderError:
                # The batch was accepted: its messages must not be sent again, so they
                # count as sent with the id still unknown; receipts carry the reference.
                pass
        raw = {"batchid": batch_id}
        return [
            _result_from_message(m.reference, listed[m.reference])
            if m.reference in listed
            else SendResult(reference=m.reference, raw=raw)
            for m in chunk
        ]

    def lookup(self, *, reference: str, provider_message_id: str = "") -> SendResult | None:
        if provider_message_id:
            data = self._call("GET", f"/v1/messages/{provider_message_id}", missing_ok=True)
            if isinstance(data, dict) and data:
                return _result_from_message(reference, data)
        query = {"metadata": [{"key": REFERENCE_KEY, "value": reference}], "limit": 1}
        found = _as_list(self._call("POST", "/v1/messages", payload=query))
        return _result_from_message(reference, found[0]) if found else None

    def _message_body(self, message: OutboundSMS) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sender": _wire_number(message.sender),
            "destination": _wire_number(message.to),
            "content": message.body,
            "tag": message.reference,
            "metadata": [{"key": REFERENCE_KEY, "value": message.reference}],
        }
        if message.status_callback_url:
            body["deliveryreporturl"] = message.status_callback_url
        return body

    # --- HTTP ---
    def _authorization(self) -> str:
        token = self.config.credentials.get("jwt", "").strip()
        if not token:
            raise ProviderError(
                "No SMS Works API token (jwt) configured", permanent=True, code="no_credentials"
            )
        if token.split(" ", 1)[0].lower() in {"jwt", "bearer"}:
            return token
        return f"JWT {token}"

    def _call(
        self, method: str, path: str, *, payload: Any = None, missing_ok: bool = False
    ) -> Any:
        """JSON answer of a 2xx; None for a 404 when missing_ok; ProviderError otherwise."""
        headers = {"Authorization": self._authorization(), "Accept": "application/json"}
        try:
            response = self.client.request(
                method, self.base_url + path, json=payload, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ProviderError(
                f"The SMS Works unreachable: {exc!r}", permanent=False, code="connection"
            ) from exc
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"The SMS Works timed out: {exc!r}",
                permanent=False,
                code="timeout",
                maybe_sent=True,
            ) from exc
        except httpx.HTTPError as exc:
            # The request went out and the answer was lost: it may have been accepted.
            raise ProviderError(
                f"The SMS Works connection failed: {exc!r}",
                permanent=False,
                code="connection",
                maybe_sent=True,
            ) from exc
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 300:
            raise error_from_response(response)
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(
                "The SMS Works answered with a body that is not JSON",
                permanent=False,
                code="bad_response",
                raw={"body": response.text[:500]},
            ) from exc

    # --- webhooks ---
    def parse_receipts(self, request: WebhookRequest) -> list[Receipt]:
        receipts = []
        for item in _json_items(request.body):
            message_id = str(item.get("messageid") or item.get("id") or "")
            status = str(item.get("status") or "").upper()
            if not message_id or not status:
                raise ValueError("a delivery report needs messageid and status")
            ours = STATUS_MAP.get(status)
            if ours is None:
                continue  # INCOMING, SCHEDULED, ...: nothing a receipt can apply
            reason = (
                item.get("failurereason") if isinstance(item.get("failurereason"), dict) else {}
            )
            occurred = item.get("deliveredat") if ours == "delivered" else None
            receipts.append(
                Receipt(
                    provider_message_id=message_id,
                    status=ours,
                    occurred_at=parse_time(occurred or item.get("modified") or item.get("created")),
                    reference=_reference_of(item, strict=True),
                    error_code=_code_text(reason.get("code")),
                    error_reason=str(reason.get("details") or ""),
                    raw=item,
                    opted_out=ours != "delivered"
                    and _code_text(reason.get("code")) == str(OPTED_OUT_CODE),
                )
            )
        return receipts

    def parse_inbound(self, request: WebhookRequest) -> list[InboundSMS]:
        texts = []
        for item in _json_items(request.body):
            status = str(item.get("status") or "INCOMING").upper()
            message_id = str(item.get("messageid") or item.get("id") or "")
            if status != "INCOMING" or not message_id or not item.get("sender"):
                raise ValueError("an inbound message needs messageid, sender and status INCOMING")
            texts.append(
                InboundSMS(
                    provider_message_id=message_id,
                    from_number=e164(str(item["sender"])),
                    to_number=e164(str(item.get("destination") or "")),
                    body=str(item.get("content") or ""),
                    received_at=parse_time(item.get("created") or item.get("modified")),
                    raw=item,
                )
            )
        return texts


def error_from_response(response: httpx.Response) -> ProviderError:
    """Their ExtendedErrorModel ({message, errorCode, status, permanent}) -> ProviderError."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {"body": body}
    status = response.status_code
    message = str(body.get("message") or response.reason_phrase or f"HTTP {status}")
    error_code = body.get("errorCode")
    code = _code_text(error_code) or str(body.get("status") or "") or f"http_{status}"
    raw = {"http_status": status, **body}
    if status in TRANSIENT_HTTP or status >= 500:
        return ProviderError(
            f"The SMS Works: {message}",
            permanent=False,
            code=code,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
            maybe_sent=status == 504,  # a gateway gave up waiting: the API may have accepted it
            raw=raw,
        )
    opted_out = _code_text(error_code) == str(OPTED_OUT_CODE) or body.get("status") == "OPTED_OUT"
    return ProviderError(
        f"The SMS Works: {message}", permanent=True, code=code, opted_out=opted_out, raw=raw
    )


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def parse_time(value: Any) -> datetime | None:
    """ISO 8601, or the JavaScript Date text their examples show
    ("Wed Jul 19 2017 20:53:46 GMT+0100 (BST)")."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.strptime(text.split(" (")[0], "%a %b %d %Y %H:%M:%S GMT%z")
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def e164(number: str) -> str:
    """Their numbers carry no "+" (447700900123); short codes and sender names stay as they are."""
    digits = number.strip().lstrip("+")
    if digits.isdigit() and len(digits) >= 8:
        return f"+{digits}"
    return number.strip()


def _wire_number(number: str) -> str:
    stripped = number.strip()
    if stripped.startswith("+") and stripped[1:].isdigit():
        return stripped[1:]
    return stripped


def _result_from_message(reference: str, item: dict) -> SendResult:
    message_id = str(item.get("messageid") or item.get("id") or "")
    status = str(item.get("status") or "").upper()
    if status not in REJECTED_STATUSES:
        return SendResult(reference=reference, provider_message_id=message_id, raw=item)
    reason = item.get("failurereason") if isinstance(item.get("failurereason"), dict) else {}
    code = _code_text(reason.get("code")) or status
    error = ProviderError(
        f"The SMS Works rejected the message: {reason.get('details') or status}",
        permanent=True,
        code=code,
        opted_out=code == str(OPTED_OUT_CODE),
        raw=item,
    )
    return SendResult(reference=reference, provider_message_id=message_id, error=error, raw=item)


def _reference_of(item: dict, *, strict: bool) -> str:
    """Our uuid: the metadata pair first, then the tag (only when it is a uuid, if strict:
    a tag set by another tool on the same account is a campaign label, not our reference)."""
    metadata = item.get("metadata")
    if isinstance(metadata, list):
        for pair in metadata:
            if isinstance(pair, dict) and pair.get("key") == REFERENCE_KEY and pair.get("value"):
                return str(pair["value"])
    tag = str(item.get("tag") or "")
    if not strict or not tag:
        return tag
    try:
        uuid.UUID(tag)
    except ValueError:
        return ""
    return tag


def _json_items(body: bytes) -> list[dict]:
    try:
        data = json.loads(body or b"")
    except ValueError as exc:
        raise ValueError("webhook body is not JSON") from exc
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) for item in items):
        raise ValueError("webhook body is not a message object or a list of them")
    return items


def _code_text(code: Any) -> str:
    if code is None or code == "":
        return ""
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def _as_list(data: Any) -> list[dict]:
    if isinstance(data, dict):
        data = data.get("messages", [])
    return [item for item in data or [] if isinstance(item, dict)]


def _as_dict(data: Any) -> dict:
    return data if isinstance(data, dict) else {"body": data}
