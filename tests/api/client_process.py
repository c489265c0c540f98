"""Run as a separate process by test_end_to_end.py: an outside system using the API
with a real HTTP client. Prints one JSON line with what it saw.

    python tests/api/client_process.py BASE_URL API_KEY SIMULATOR_URL PHONE
"""

from __future__ import annotations

import json
import re
import sys
import time

import httpx


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise SystemExit(f"timed out after {timeout}s")


def main(base: str, key: str, sim: str, phone: str) -> None:
    seen: dict = {}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"{base}/api/v1", headers=headers, timeout=30) as api:
        payload = {"to": phone, "body": "Your table is booked for 8pm."}
        first = api.post("/messages", json=payload, headers={"Idempotency-Key": "booking-1"})
        replay = api.post("/messages", json=payload, headers={"Idempotency-Key": "booking-1"})
        seen["send"] = [first.status_code, replay.status_code]
        seen["same_answer"] = first.json() == replay.json()
        message_id = first.json()["id"]
        seen["message_id"] = message_id

        def at_provider():
            found = httpx.get(f"{sim}/_sim/messages", params={"reference": message_id}, timeout=10)
            return found.json()["messages"]

        seen["at_provider"] = wait_for(at_provider)[0]["content"]
        seen["status"] = wait_for(
            lambda: (s := api.get(f"/messages/{message_id}").json()["status"]) != "queued" and s
        )

        sent = api.post("/otp/send", json={"phone": phone})
        seen["otp_send"] = sent.status_code
        otp_message = sent.json()["message_id"]

        def code_on_phone():
            found = httpx.get(f"{sim}/_sim/messages", params={"reference": otp_message}, timeout=10)
            messages = found.json()["messages"]
            return messages and re.search(r"\b(\d{6})\b", messages[0]["content"]).group(1)

        code = wait_for(code_on_phone)
        wrong = "999999" if code != "999999" else "888888"
        seen["otp_wrong"] = api.post("/otp/verify", json={"phone": phone, "code": wrong}).json()
        seen["otp_verify"] = api.post("/otp/verify", json={"phone": phone, "code": code}).json()
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
