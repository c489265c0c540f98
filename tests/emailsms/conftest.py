from __future__ import annotations

import smtplib
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.processes import BIN, ROOT, child_env, stop, wait_for
from tests.simulator.process import RunningSimulator, free_port, running_simulator

SENDER_ADDRESS = "ada@example.com"


@dataclass
class Listener:
    host: str
    port: int
    domain: str
    process: subprocess.Popen
    log: Path

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP(self.host, self.port, timeout=30)

    def send(self, mail: EmailMessage) -> dict:
        with self.client() as smtp:
            return smtp.send_message(mail)

    def address(self, number: str) -> str:
        return f"{number}@{self.domain}"


def _answers(listener: Listener) -> bool:
    if listener.process.poll() is not None:
        raise AssertionError(f"run_smtp exited early:\n{listener.log.read_text()}")
    try:
        with smtplib.SMTP(listener.host, listener.port, timeout=30) as smtp:
            return smtp.noop()[0] == 250
    except OSError:
        return False


@pytest.fixture(scope="module")
def smtp_listener(django_db_setup, django_db_blocker) -> Iterator[Listener]:
    """`manage.py run_smtp` as its own process, on a free port, against the test database."""
    from django.conf import settings

    with django_db_blocker.unblock():
        env = child_env(EMAIL_TO_SMS_DOMAIN=settings.EMAIL_TO_SMS_DOMAIN)
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="smsworks-smtp-")) / "run_smtp.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "python"),
                "manage.py",
                "run_smtp",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    listener = Listener("127.0.0.1", port, settings.EMAIL_TO_SMS_DOMAIN, process, log)
    try:
        wait_for(lambda: _answers(listener), timeout=60, interval=0.2, what="run_smtp to answer")
        yield listener
    finally:
        stop(process)


@pytest.fixture(scope="module")
def emailsms_simulator_process() -> Iterator[RunningSimulator]:
    with running_simulator(receipt_delay_ms=(5, 30), delivered=1.0, undelivered=0, failed=0) as sim:
        yield sim


@pytest.fixture
def engine(emailsms_simulator_process, live_server, settings, transactional_db):
    """A sender whose provider is the simulator (the real SMS Works backend); receipts
    come back to the live server."""
    from tests.factories import ProviderAccountFactory, SenderFactory

    sim = emailsms_simulator_process
    sim.reset()
    if settings.REDIS_URL:
        # Rate buckets live in Redis across tests; sender ids repeat after a flush.
        from messaging.ratelimit import _redis

        client, _ = _redis()
        for key in client.scan_iter(f"{settings.REDIS_KEY_PREFIX}smsworks:bucket:*"):
            client.delete(key)
    settings.MESSAGING_WEBHOOK_BASE_URL = live_server.url
    account = ProviderAccountFactory(
        backend="smsworks", base_url=sim.url, credentials={"jwt": sim.token()}, timeout_seconds=5
    )
    sender = SenderFactory(account=account, value="+447912000100", messages_per_second=2000)
    return {"simulator": sim, "account": account, "sender": sender}


def mail(
    *,
    to: str | list[str],
    body: str = "Your table is booked for 8pm.",
    sender: str = f"Ada Lovelace <{SENDER_ADDRESS}>",
    subject: str = "Booking",
    message_id: str | None = None,
    html: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to) if isinstance(to, list) else to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message
