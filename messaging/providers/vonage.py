"""Vonage (Nexmo) SMS API: POST /sms/json, delivery receipts, inbound texts and
the SMS API's signed webhooks (the `sig` parameter)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime

import httpx

from messaging.encoding import is_gsm
from messaging.providers.base import (
    Backend,
    InboundSMS,
    OutboundSMS,
    ProviderError,
    Receipt,
    SendResult,
    WebhookRequest,
)

logger = logging.getLogger(__name__)

# SMS API `status` values worth retrying: throttled, internal error, too many binds.
TRANSIENT_STATUSES = frozenset({"1", "5", "10"})
THROTTLE_BACKOFF = 1.0  # seconds; Vonage's throttle answer carries no Retry-After
DLR_STATUSES: dict[str, str] = {
    "delivered": "delivered",
    "accepted": "sent",
    "buffered": "sent",
    "expired": "undelivered",
    "failed": "failed",
    "rejected": "failed",
}
# A failed/rejected receipt with err-code 9: the recipient asked not to get texts
# from this sender (Vonage blocks it after accepting the send).
DLR_OPTED_OUT_CODE = "9"
SIGNATURE_METHODS: dict[str, str] = {
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
    "sha512": "sha512",
}
MAX_SIGNATURE_AGE = 300  # seconds either way


def signature(params: dict[str, str], secret: str, method: str = "md5hash") -> str:
    """Vonage's SMS API signature over the parameters (without `sig`).

    Sorted keys, '&' and '=' in values replaced by '_', joined as '&key=value'.
    md5hash: MD5 of that string followed by the secret (lower-case hex);
    md5/sha1/sha256/sha512: HMAC keyed with the secret (upper-case hex)."""
    text = "".join(
        f"&{key}={str(params[key]).replace('&', '_').replace('=', '_')}" for key in sorted(params)
    )
    # Accept the SDK names (md5hash, sha256) and the dashboard's ("SHA-256 HMAC").
    method = "".join(ch for ch in (method or "md5hash").lower() if ch.isalnum())
    method = method.replace("hmac", "")
    if method == "md5hash":
        return hashlib.md5((text + secret).encode(), usedforsecurity=False).hexdigest()
    if method not in SIGNATURE_METHODS:
        raise ValueError(f"unsupported Vonage signature method {method!r}")
    return hmac.new(secret.encode(), text.encode(), SIGNATURE_METHODS[method]).hexdigest().upper()


class VonageBackend(Backend):
    kind = "vonage"
    label = "Vonage"
    default_base_url = "https://rest.nexmo.com"
    credential_fields = ("api_key", "api_secret", "signature_secret", "signature_method")
    secret_credentials = frozenset({"api_secret", "signature_secret"})

    @property
    def signature_secret(self) -> str:
        return self.config.credentials.get("signature_secret", "")

    # --- sending ---
    def send(self, message: OutboundSMS) -> SendResult:
        data = {
            "api_key": self.config.credentials.get("api_key", ""),
            "api_secret": self.config.credentials.get("api_secret", ""),
            "from": _wire_number(message.sender),
            "to": _wire_number(message.to),
            "text": message.body,
            "client-ref": message.reference,
        }
        if not is_gsm(message.body):
            data["type"] = "unicode"
        if message.status_callback_url:
            data["callback"] = message.status_callback_url
        response = self._post("/sms/json", data)
        if not response.is_success:
            raise _http_error(response)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        parts = payload.get("messages") if isinstance(payload, dict) else None
        if not parts:
            # Vonage took the request but we cannot tell how: reconcile, never resend blindly.
            raise ProviderError(
                f"Vonage answered {response.status_code} without message results",
                permanent=False,
                maybe_sent=True,
                code="unreadable_response",
                raw=payload if isinstance(payload, dict) else {},
            )
        return _result(message.reference, payload, parts)

    def _post(self, path: str, data: dict[str, str]) -> httpx.Response:
        try:
            return self.client.post(f"{self.base_url}{path}", data=data)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ProviderError(
                f"Could not reach Vonage: {exc.__class__.__name__}: {exc}",
                permanent=False,
                code="connection_error",
            ) from exc
        except httpx.TransportError as exc:
            # Unlike a connection that never opened, the request may have reached Vonage.
            code = "timeout" if isinstance(exc, httpx.TimeoutException) else "transport_error"
            raise ProviderError(
                f"No answer from Vonage: {exc.__class__.__name__}: {exc}",
                permanent=False,
                code=code,
                maybe_sent=True,
            ) from exc

    # --- webhooks ---
    def verify_webhook(self, request: WebhookRequest) -> bool:
        if not self.signature_secret:
            return super().verify_webhook(request)
        try:
            params = _webhook_params(request)
        except ValueError:
            return False
        sig = params.pop("sig", "")
        try:
            sent_at = int(params.get("timestamp", ""))
        except ValueError:
            return False
        if not sig or abs(time.time() - sent_at) > MAX_SIGNATURE_AGE:
            return False
        method = self.config.credentials.get("signature_method") or "md5hash"
        try:
            expected = signature(params, self.signature_secret, method)
        except ValueError:
            logger.warning("Vonage account %s: unknown signature method", self.config.account_id)
            return False
        return hmac.compare_digest(expected.lower().encode(), sig.lower().encode())

    def webhook_query(self) -> str:
        # Signed webhooks prove themselves; otherwise fall back to the URL token.
        return "" if self.signature_secret else super().webhook_query()

    def parse_receipts(self, request: WebhookRequest) -> list[Receipt]:
        params = _webhook_params(request)
        message_id = params.get("messageId", "")
        status = params.get("status", "").lower()
        if not message_id or not status:
            raise ValueError("not a Vonage delivery receipt: messageId or status missing")
        if status not in DLR_STATUSES:
            return []  # "unknown" says nothing new
        error_code = params.get("err-code", "")
        error_code = "" if error_code == "0" else error_code
        reason = ""
        opted_out = error_code == DLR_OPTED_OUT_CODE and DLR_STATUSES[status] == "failed"
        if opted_out:
            reason = "recipient opted out of messages from this sender"
        return [
            Receipt(
                provider_message_id=message_id,
                status=DLR_STATUSES[status],
                occurred_at=_timestamp(params.get("message-timestamp", "")),
                reference=params.get("client-ref", ""),
                error_code=error_code,
                error_reason=reason,
                raw=params,
                opted_out=opted_out,
            )
        ]

    def parse_inbound(self, request: WebhookRequest) -> list[InboundSMS]:
        params = _webhook_params(request)
        message_id = params.get("messageId", "")
        if not message_id or not params.get("msisdn") or "text" not in params:
            raise ValueError("not a Vonage inbound message: messageId, msisdn or text missing")
        # Parts of a long text (concat=true) arrive one by one; each is kept as sent.
        return [
            InboundSMS(
                provider_message_id=message_id,
                from_number=_e164(params["msisdn"]),
                to_number=_e164(params.get("to", "")),
                body=params["text"],
                received_at=_timestamp(params.get("message-timestamp", "")),
                raw=params,
            )
        ]


def _result(reference: str, payload: dict, parts: list[dict]) -> SendResult:
    accepted = [str(part.get("message-id", "")) for part in parts if str(part.get("status")) == "0"]
    rejected = [part for part in parts if str(part.get("status")) != "0"]
    if not rejected:
        return SendResult(reference=reference, provider_message_id=accepted[0], raw=payload)
    code = str(rejected[0].get("status", ""))
    text = rejected[0].get("error-text") or "rejected"
    # Once some parts went out, a retry would send those parts twice.
    transient = code in TRANSIENT_STATUSES and not accepted
    error = ProviderError(
        f"Vonage status {code}: {text}",
        permanent=not transient,
        code=code,
        retry_after=THROTTLE_BACKOFF if transient and code == "1" else None,
        raw=payload,
    )
    return SendResult(
        reference=reference,
        provider_message_id=accepted[0] if accepted else "",
        error=error,
        raw=payload,
    )


def _http_error(response: httpx.Response) -> ProviderError:
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    status = response.status_code
    detail = (
        payload.get("error-code-label")
        or payload.get("title")
        or payload.get("detail")
        or response.reason_phrase
    )
    retry_after = None
    with contextlib.suppress(ValueError):
        retry_after = float(response.headers.get("retry-after", ""))
    return ProviderError(
        f"Vonage HTTP {status}: {detail}",
        permanent=not (status in (408, 429) or status >= 500),
        code=str(payload.get("error-code") or status),
        retry_after=retry_after,
        raw=payload,
    )


def _webhook_params(request: WebhookRequest) -> dict[str, str]:
    """Vonage calls with GET (query), POST form or POST JSON, by account setting."""
    params = dict(request.query)
    params.update(request.form)
    content_type = request.headers.get("content-type", "")
    if request.body and not request.form and ("json" in content_type or request.body[:1] == b"{"):
        try:
            data = json.loads(request.body)
        except ValueError as exc:
            raise ValueError("Vonage webhook body is not valid JSON") from exc
        if isinstance(data, dict):
            params.update({key: _text(value) for key, value in data.items()})
    params.pop("token", None)  # our own URL token, not Vonage's data
    return params


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value)


def _wire_number(number: str) -> str:
    """Vonage wants international numbers without '+'; sender IDs pass as they are."""
    return number[1:] if number.startswith("+") else number


def _e164(number: str) -> str:
    return f"+{number}" if number.isdigit() and len(number) > 6 else number


def _timestamp(value: str) -> datetime | None:
    """Vonage's message-timestamp: 'YYYY-MM-DD HH:MM:SS' in UTC."""
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
