"""An outside system in its own process sends through the API of a live server; a
real Celery worker hands the messages to the simulator; the client reads its OTP off
the simulator and verifies it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.keys import api_key_create
from api.models import OtpChallenge
from messaging.models import Message
from messaging.tasks import dispatch_due
from tests.processes import celery_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CLIENT = Path(__file__).with_name("client_process.py")


def test_a_client_process_sends_and_verifies_an_otp(engine, live_server, key_owner):
    from smsworks.celery import app

    app.control.purge()
    sender = engine["sender"]
    sender.is_default = True
    sender.save(update_fields=["is_default"])
    _, full_key = api_key_create(name="e2e", scopes=["send"], created_by=key_owner)
    phone = "+447912345901"

    with celery_worker(env={"MESSAGING_WEBHOOK_BASE_URL": live_server.url}):
        client = subprocess.Popen(
            [
                sys.executable,
                str(CLIENT),
                live_server.url,
                full_key,
                engine["simulator"].url,
                phone,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while client.poll() is None and time.monotonic() < deadline:
                dispatch_due()  # what beat does every 2 s
                time.sleep(1)
            out, err = client.communicate(timeout=5) if client.poll() is not None else ("", "")
        finally:
            if client.poll() is None:
                client.kill()
                client.wait(10)
    assert client.returncode == 0, err
    seen = json.loads(out.strip().splitlines()[-1])

    assert seen["send"] == [201, 201] and seen["same_answer"]
    assert seen["at_provider"] == "Your table is booked for 8pm."
    assert seen["status"] in {"sending", "sent", "delivered"}
    assert seen["otp_send"] == 201
    assert seen["otp_wrong"]["error"]["code"] == "otp_invalid"
    assert seen["otp_verify"] == {"verified": True, "phone": phone}
    # Sent once, each on the transactional lane.
    assert Message.objects.filter(to_number=phone).count() == 2
    assert set(Message.objects.values_list("priority", flat=True)) == {"transactional"}
    assert engine["simulator"].stats()["duplicates"] == 0
    assert OtpChallenge.objects.get().verified_at is not None
