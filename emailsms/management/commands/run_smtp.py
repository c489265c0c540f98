"""The email-to-SMS SMTP listener: `manage.py run_smtp [--host H] [--port P]`."""

from __future__ import annotations

import signal
import threading

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand

from emailsms.smtp import EmailToSMSHandler


class Command(BaseCommand):
    help = "Run the SMTP listener that turns mail to <number>@EMAIL_TO_SMS_DOMAIN into texts."
    # The listener serves no URLs: it starts even while a web page's code is broken.
    requires_system_checks: list = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.EMAIL_TO_SMS_SMTP_HOST)
        parser.add_argument("--port", type=int, default=settings.EMAIL_TO_SMS_SMTP_PORT)

    def handle(self, *args, host: str, port: int, **options) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        controller = Controller(
            EmailToSMSHandler(),
            hostname=host,
            port=port,
            server_hostname=settings.EMAIL_TO_SMS_DOMAIN,
            ident="smsworks email-to-SMS",
            data_size_limit=settings.EMAIL_TO_SMS_MAX_MAIL_BYTES,
            ready_timeout=30,
        )
        controller.start()
        self.stdout.write(
            f"email-to-SMS listening on {host}:{port} for mail to <number>@{settings.EMAIL_TO_SMS_DOMAIN}",
        )
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            controller.stop()
            self.stdout.write("email-to-SMS listener stopped")
