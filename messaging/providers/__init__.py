"""Provider backends: one interface (base.Backend), one module per provider."""

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
from messaging.providers.registry import backend_class, backend_for

__all__ = [
    "AccountConfig",
    "Backend",
    "InboundSMS",
    "OutboundSMS",
    "ProviderError",
    "Receipt",
    "SendResult",
    "WebhookRequest",
    "backend_class",
    "backend_for",
]
