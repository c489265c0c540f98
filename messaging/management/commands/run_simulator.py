"""Start the provider simulator wired to a provider account of this install.

The simulator is a separate process that shares nothing with the platform; this
command only works out its flags (token, inbound webhook URL) and replaces
itself with `python -m simulator ...`."""

import os
import sys
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

from messaging.demo import SIMULATOR_ACCOUNT
from messaging.models import ProviderAccount
from messaging.services import webhook_url


class Command(BaseCommand):
    help = "Run the provider simulator for a provider account (default: the demo one)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", default=SIMULATOR_ACCOUNT)
        parser.add_argument("extra", nargs="*", help="more flags for the simulator, after --")

    def handle(self, *args, account: str, extra: list[str], **options) -> None:
        try:
            provider = ProviderAccount.objects.get(name=account)
        except ProviderAccount.DoesNotExist:
            raise CommandError(f"No provider account named {account!r}: run seed_demo.") from None
        address = urlsplit(provider.base_url or "http://127.0.0.1:9000")
        argv = [
            sys.executable,
            "-m",
            "simulator",
            "--host",
            address.hostname or "127.0.0.1",
            "--port",
            str(address.port or 9000),
            "--token",
            provider.credentials.get("jwt", ""),
            "--inbound-url",
            webhook_url(provider, "inbound"),
            *extra,
        ]
        self.stdout.write(f"simulator for {provider.name}: {provider.base_url}/phone")
        self.stdout.flush()
        os.execv(sys.executable, argv)  # noqa: S606 - our own interpreter, fixed argv
