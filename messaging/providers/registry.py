from __future__ import annotations

from importlib import import_module

import httpx

from messaging.providers.base import AccountConfig, Backend

# kind -> "module:Class"; imported lazily so one broken backend cannot stop the rest.
BACKENDS: dict[str, str] = {
    "smsworks": "messaging.providers.smsworks:SMSWorksBackend",
    "twilio": "messaging.providers.twilio:TwilioBackend",
    "vonage": "messaging.providers.vonage:VonageBackend",
    "console": "messaging.providers.console:ConsoleBackend",
}


def backend_class(kind: str) -> type[Backend]:
    try:
        path = BACKENDS[kind]
    except KeyError:
        raise ValueError(f"unknown provider backend {kind!r}") from None
    module, name = path.split(":")
    return getattr(import_module(module), name)


def backend_for(kind: str, config: AccountConfig, client: httpx.Client | None = None) -> Backend:
    return backend_class(kind)(config, client=client)
