"""Demo data for the engine: the simulator as a provider account, and senders."""

from __future__ import annotations

import secrets
from decimal import Decimal

from messaging.models import Backend, ProviderAccount, Sender

SIMULATOR_ACCOUNT = "Simulator"
SIMULATOR_URL = "http://127.0.0.1:9000"


def seed() -> list[str]:
    account, created = ProviderAccount.objects.get_or_create(
        name=SIMULATOR_ACCOUNT,
        defaults={
            "backend": Backend.SMSWORKS,
            "base_url": SIMULATOR_URL,
            "credentials": {"jwt": secrets.token_urlsafe(24)},
            "default_price": Decimal("0.0400"),
            "prices": {"GB": "0.0350", "US": "0.0079"},
        },
    )
    senders = [
        ("+447912000100", Sender.Kind.LONG_NUMBER, "Support line", {"team": "support"}, True),
        ("+447912000200", Sender.Kind.LONG_NUMBER, "Offers line", {"team": "marketing"}, False),
        ("SMSWORKS", Sender.Kind.ALPHANUMERIC, "Brand name", {}, False),
    ]
    for value, kind, label, metadata, default in senders:
        Sender.objects.get_or_create(
            value=value,
            defaults={
                "account": account,
                "kind": kind,
                "label": label,
                "metadata": metadata,
                "is_default": default,
                "messages_per_second": 50,
            },
        )
    if not created:
        return []
    return [f"Provider account '{SIMULATOR_ACCOUNT}' talks to the simulator at {SIMULATOR_URL}"]
