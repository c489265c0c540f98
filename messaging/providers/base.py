"""The one interface every SMS provider backend implements.

Backends know HTTP and the provider's wire format, nothing about the ORM: they
take and return the plain dataclasses below, so the send pipeline and the
webhook views are the same for every provider and backends are tested against a
local HTTP fake or the simulator.
"""

from __future__ import annotations

import hmac
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

import httpx

# Statuses a receipt may carry; the same values as messaging.models.Status.
RECEIPT_STATUSES = frozenset({"sent", "delivered", "undelivered", "failed"})


class ProviderError(Exception):
    """A send (or lookup) failed.

    permanent=True: retrying cannot help (bad number, auth, content): never retried.
    permanent=False: 429, 5xx, timeouts, connection errors: retried with backoff.
    opted_out=True: the provider says the recipient opted out (implies permanent).
    maybe_sent=True: the request may have reached the provider (a read timeout, a
    dropped connection): the message is reconciled by lookup, never resent blindly.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str = "",
        retry_after: float | None = None,
        opted_out: bool = False,
        maybe_sent: bool = False,
        raw: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent or opted_out
        self.code = code
        self.retry_after = retry_after
        self.opted_out = opted_out
        self.maybe_sent = maybe_sent and not self.permanent
        self.raw = raw or {}


@dataclass(frozen=True)
class AccountConfig:
    """What a backend needs from a ProviderAccount row."""

    account_id: str  # ProviderAccount.public_id, as text
    base_url: str
    credentials: dict[str, str]
    webhook_secret: str
    timeout: float = 10.0


@dataclass(frozen=True)
class OutboundSMS:
    reference: str  # our Message.uuid as text; travels to the provider
    to: str  # E.164
    sender: str  # E.164 number, short code or alphanumeric sender ID
    body: str
    status_callback_url: str = ""  # where the provider should post receipts


@dataclass(frozen=True)
class SendResult:
    """The outcome for one message. In a batch, one per message, same order."""

    reference: str
    provider_message_id: str = ""
    error: ProviderError | None = None
    raw: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Receipt:
    provider_message_id: str
    status: str  # one of RECEIPT_STATUSES
    occurred_at: datetime | None = None
    reference: str = ""  # our uuid when the provider echoes it back
    error_code: str = ""
    error_reason: str = ""
    raw: dict = field(default_factory=dict)
    # The provider says the recipient opted out (Vonage err-code 9, Twilio 21610,
    # The SMS Works 1030): applying the receipt opts the contact out.
    opted_out: bool = False


@dataclass(frozen=True)
class InboundSMS:
    provider_message_id: str
    from_number: str  # E.164
    to_number: str  # the platform number (E.164 or short code)
    body: str
    received_at: datetime | None = None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookRequest:
    """A webhook call, independent of Django's HttpRequest."""

    method: str
    url: str  # absolute URL as called, with the query ("" unless webhook_signs_url)
    headers: dict[str, str]  # lower-cased names
    body: bytes
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)  # parsed form body, if any


class Backend(ABC):
    kind: ClassVar[str]
    label: ClassVar[str]
    default_base_url: ClassVar[str] = ""
    # Credential names the account form asks for; the ones in secret_credentials
    # are never shown back in full.
    credential_fields: ClassVar[tuple[str, ...]] = ()
    secret_credentials: ClassVar[frozenset[str]] = frozenset()
    # True when verify_webhook reads WebhookRequest.url (a signature over the URL).
    # Only then is the absolute URL built for a webhook call (a twentieth of a
    # receipt's CPU in the web process); other backends get url="".
    webhook_signs_url: ClassVar[bool] = False
    max_batch: ClassVar[int] = 1  # > 1: send_batch uses the provider's batch endpoint
    max_concurrency: ClassVar[int] = 32  # single sends in flight when there is no batch endpoint

    def __init__(self, config: AccountConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.base_url = (config.base_url or self.default_base_url).rstrip("/")
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(config.timeout, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def close(self) -> None:
        self.client.close()

    # --- sending ---
    @abstractmethod
    def send(self, message: OutboundSMS) -> SendResult:
        """Send one message. Raises ProviderError for a failure of the whole call;
        may instead return a SendResult with .error for a per-message rejection."""

    def send_batch(self, messages: Sequence[OutboundSMS]) -> list[SendResult]:
        """Send several; one result per message, in order. Never raises for one
        message's failure: that message's result carries the error.

        Default: concurrent single sends with a bounded pool. Backends with a
        batch endpoint override this (and set max_batch)."""
        if not messages:
            return []

        def one(message: OutboundSMS) -> SendResult:
            try:
                return self.send(message)
            except ProviderError as exc:
                return SendResult(reference=message.reference, error=exc)

        workers = min(self.max_concurrency, len(messages))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, messages))

    def lookup(self, *, reference: str, provider_message_id: str = "") -> SendResult | None:
        """Ask the provider whether it accepted this message. None: it has no such
        message (safe to send again). Raises ProviderError when it cannot tell."""
        raise ProviderError(f"{self.label} offers no message lookup", permanent=True)

    # --- webhooks ---
    def verify_webhook(self, request: WebhookRequest) -> bool:
        """Default: the account's webhook secret as ?token= (constant-time compare)."""
        token = request.query.get("token", "")
        return bool(self.config.webhook_secret) and hmac.compare_digest(
            token.encode(), self.config.webhook_secret.encode()
        )

    def webhook_query(self) -> str:
        """What to append to our webhook URLs so that verify_webhook passes."""
        return f"?token={self.config.webhook_secret}"

    @abstractmethod
    def parse_receipts(self, request: WebhookRequest) -> list[Receipt]:
        """Turn a verified receipt webhook into receipts. Raises ValueError when
        the body is not a receipt."""

    @abstractmethod
    def parse_inbound(self, request: WebhookRequest) -> list[InboundSMS]:
        """Turn a verified inbound webhook into texts. Raises ValueError when the
        body is not an inbound text."""

    def webhook_response(self) -> tuple[int, str, bytes]:
        """(status, content type, body) to answer a webhook with."""
        return 200, "application/json", b'{"ok": true}'
