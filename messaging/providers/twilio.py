"""Twilio Programmable Messaging: form-encoded REST API, X-Twilio-Signature webhooks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar

import httpx
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator

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

OPTED_OUT_CODE = "21610"  # "Attempt to send to unsubscribed recipient"
RATE_LIMITED_CODE = "20429"
# Only these move a message forward; queued/accepted/sending/scheduled/read... are noise.
RECEIPT_STATUSES: dict[str, str] = {
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
}
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


class TwilioBackend(Backend):
    kind = "twilio"
    label = "Twilio"
    default_base_url = "https://api.twilio.com"
    credential_fields = ("account_sid", "auth_token")
    secret_credentials = frozenset({"auth_token"})
    webhook_signs_url = True  # X-Twilio-Signature covers the URL

    api_version: ClassVar[str] = "2010-04-01"

    @property
    def account_sid(self) -> str:
        return self.config.credentials.get("account_sid", "")

    @property
    def auth_token(self) -> str:
        return self.config.credentials.get("auth_token", "")

    def _messages_url(self, suffix: str = "") -> str:
        return (
            f"{self.base_url}/{self.api_version}/Accounts/{self.account_sid}/Messages{suffix}.json"
        )

    def _request(self, method: str, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        try:
            return self.client.request(
                method, url, data=data, auth=(self.account_sid, self.auth_token)
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ProviderError(
                f"Could not reach Twilio: {exc.__class__.__name__}: {exc}",
                permanent=False,
                code="connection_error",
            ) from exc
        except httpx.TransportError as exc:
            # Unlike a connection that never opened, the request may have reached Twilio.
            code = "timeout" if isinstance(exc, httpx.TimeoutException) else "transport_error"
            raise ProviderError(
                f"No answer from Twilio: {exc.__class__.__name__}: {exc}",
                permanent=False,
                code=code,
                maybe_sent=True,
            ) from exc

    # --- sending ---
    def send(self, message: OutboundSMS) -> SendResult:
        data = {"To": message.to, "Body": message.body}
        if message.sender.startswith("MG") and len(message.sender) == 34:
            data["MessagingServiceSid"] = message.sender
        else:
            data["From"] = message.sender
        if message.status_callback_url:
            data["StatusCallback"] = message.status_callback_url
        response = self._request("POST", self._messages_url(), data)
        if response.is_success:
            payload = _json_or_empty(response)
            sid = str(payload.get("sid") or "")
            if not sid:
                # Twilio took it but we cannot tell how: reconcile, never resend blindly.
                raise ProviderError(
                    f"Twilio answered {response.status_code} without a message SID",
                    permanent=False,
                    maybe_sent=True,
                    code="unreadable_response",
                    raw=payload,
                )
            return SendResult(
                reference=message.reference,
                provider_message_id=sid,
                error=_message_failure(payload),
                raw=payload,
            )
        raise _error_from_response(response)

    def lookup(self, *, reference: str, provider_message_id: str = "") -> SendResult | None:
        if not provider_message_id:
            raise ProviderError(
                "Twilio keeps no client reference, so a message cannot be found by our "
                "reference alone; without its SID we cannot tell whether Twilio has it",
                permanent=True,
                code="lookup_unsupported",
            )
        response = self._request("GET", self._messages_url(f"/{provider_message_id}"))
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise _error_from_response(response)
        payload = _json_or_empty(response)
        return SendResult(
            reference=reference,
            provider_message_id=str(payload.get("sid") or provider_message_id),
            error=_message_failure(payload),
            raw=payload,
        )

    # --- webhooks ---
    def verify_webhook(self, request: WebhookRequest) -> bool:
        signature = request.headers.get("x-twilio-signature", "")
        if not signature or not self.auth_token:
            return False
        if request.headers.get(SIGNATURE_SETTINGS_HEADER.lower()):
            # Signed with a Webhooks SharedKey, not the auth token: we hold no such key.
            logger.warning(
                "Twilio webhook signed with a SharedKey (%s); only auth-token signatures "
                "are supported",
                SIGNATURE_SETTINGS_HEADER,
            )
            return False
        validator = RequestValidator(self.auth_token)
        # JSON bodies are signed through a bodySHA256 query parameter over the raw body.
        params: dict[str, str] | str = (
            request.body.decode("utf-8", errors="replace")
            if "bodySHA256" in request.query
            else request.form
        )
        return validator.validate(request.url, params, signature)

    def webhook_query(self) -> str:
        return ""  # the signature is the proof

    def parse_receipts(self, request: WebhookRequest) -> list[Receipt]:
        form = request.form
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
        if not sid or not status:
            raise ValueError("not a Twilio status callback: MessageSid or MessageStatus missing")
        if status not in RECEIPT_STATUSES:
            return []
        return [
            Receipt(
                provider_message_id=sid,
                status=RECEIPT_STATUSES[status],
                error_code=form.get("ErrorCode", ""),
                error_reason=form.get("ErrorMessage", ""),
                raw=dict(form),
                opted_out=form.get("ErrorCode", "") == OPTED_OUT_CODE,
            )
        ]

    def parse_inbound(self, request: WebhookRequest) -> list[InboundSMS]:
        form = request.form
        sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
        if not sid or not form.get("From") or "Body" not in form:
            raise ValueError("not a Twilio inbound message: MessageSid, From or Body missing")
        return [
            InboundSMS(
                provider_message_id=sid,
                from_number=form["From"],
                to_number=form.get("To", ""),
                body=form["Body"],
                raw=dict(form),
            )
        ]

    def webhook_response(self) -> tuple[int, str, bytes]:
        return 200, "text/xml", EMPTY_TWIML


def _json_or_empty(response: httpx.Response) -> dict:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _message_failure(payload: dict) -> ProviderError | None:
    """A message resource that Twilio already marked failed."""
    if payload.get("status") != "failed":
        return None
    code = str(payload.get("error_code") or "")
    return ProviderError(
        f"Twilio error {code}: {payload.get('error_message') or 'message failed'}",
        permanent=True,
        code=code,
        opted_out=code == OPTED_OUT_CODE,
        raw=payload,
    )


def _error_from_response(response: httpx.Response) -> ProviderError:
    payload = _json_or_empty(response)
    status = response.status_code
    code = str(payload.get("code") or "")
    detail = payload.get("message") or response.reason_phrase or "no details"
    message = f"Twilio error {code}: {detail}" if code else f"Twilio HTTP {status}: {detail}"
    transient = status in (408, 429) or status >= 500 or code == RATE_LIMITED_CODE
    return ProviderError(
        message,
        permanent=not transient,
        code=code or str(status),
        retry_after=retry_after_seconds(response.headers.get("retry-after")),
        opted_out=code == OPTED_OUT_CODE,
        raw=payload,
    )
