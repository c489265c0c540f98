"""The SMS Works wire shapes: the message record, its JSON forms, errors, ids.

API shapes follow their OpenAPI file (MessageResponse, SendMessageResponse,
ExtendedErrorModel); the delivery report and inbound bodies are ours and are
documented in docs/providers/smsworks.md.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

REFERENCE_KEY = "reference"
MAX_BATCH = 5000
MAX_CONTENT = 1280
OPTED_OUT_CODE = 1030

GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
NON_DIGITS = re.compile(r"[\s\-().]")


class ApiError(Exception):
    """An answer in their ExtendedErrorModel shape."""

    def __init__(self, http: int, code: int, status: str, message: str, *, permanent: bool = True):
        super().__init__(message)
        self.http = http
        self.code = code
        self.status = status
        self.message = message
        self.permanent = permanent

    def body(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "errorCode": self.code,
            "status": self.status,
            "permanent": self.permanent,
        }

    def failure_reason(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.message, "permanent": self.permanent}


def unauthorized(why: str) -> ApiError:
    return ApiError(401, 401, "UNAUTHORIZED", f"Unauthorized: {why}")


def invalid(message: str) -> ApiError:
    return ApiError(400, 1001, "INVALID_REQUEST", message)


def opted_out() -> ApiError:
    return ApiError(
        400,
        OPTED_OUT_CODE,
        "OPTED_OUT",
        "The recipient has opted out of messages from this account",
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_message_id() -> str:
    # The current API's ids are UUIDs (see OTPResponse.messageid in their spec).
    return str(uuid.uuid4())


class BatchIds:
    """Numeric batch ids like their examples ("2586749"), seeded from the clock so
    they do not repeat across restarts."""

    def __init__(self) -> None:
        self._next = int(time.time() * 10)

    def __call__(self) -> str:
        self._next += 1
        return str(self._next)


def digits_of(number: str) -> str:
    """447700900123 from "+44 7912 345678"; sender names stay as they are."""
    cleaned = NON_DIGITS.sub("", number.strip())
    bare = cleaned.lstrip("+")
    return bare if bare.isdigit() else number.strip()


def segments(text: str) -> int:
    if all(ch in GSM7 or ch in GSM7_EXTENDED for ch in text):
        length = len(text) + sum(1 for ch in text if ch in GSM7_EXTENDED)
        single, multi = 160, 153
    else:
        length = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
        single, multi = 70, 67
    if length <= single:
        return 1
    return -(-length // multi)


@dataclass(slots=True)
class SimMessage:
    seq: int
    messageid: str
    batchid: str
    sender: str
    destination: str
    content: str
    tag: str
    metadata: list | None
    deliveryreporturl: str
    created: str
    created_ts: float
    credits: float
    reference: str
    status: str = "SENT"
    modified: str = ""
    deliveredat: str = ""
    failurereason: dict | None = None
    duplicate: bool = False


def parse_message(item: Any) -> dict[str, Any]:
    """Validate one Message object (their schema); raise ApiError when it is not one."""
    if not isinstance(item, dict):
        raise invalid("A message must be a JSON object")
    for name in ("sender", "destination", "content"):
        if not isinstance(item.get(name), str) or (name != "content" and not item[name].strip()):
            raise invalid(f"'{name}' is required and must be a string")
    sender = digits_of(item["sender"])
    if sender.isdigit() and len(sender) > 15:
        raise invalid("Numeric sender IDs can be at most 15 digits")
    if not sender.isdigit() and (len(sender) > 11 or not sender.isalnum()):
        raise invalid("Alphanumeric sender IDs can be at most 11 letters or digits")
    destination = digits_of(item["destination"])
    if not destination.isdigit() or not 7 <= len(destination) <= 15:
        raise ApiError(400, 1002, "INVALID_DESTINATION", f"Invalid destination: {destination}")
    content = item["content"]
    if len(content) > MAX_CONTENT:
        raise invalid(f"'content' can be at most {MAX_CONTENT} characters")
    validity = item.get("validity")
    if validity is not None and (
        not isinstance(validity, int | float) or not 1 <= validity <= 2880
    ):
        raise invalid("'validity' must be between 1 and 2880 minutes")
    tag = item.get("tag") or ""
    if not isinstance(tag, str) or len(tag) > 280:
        raise invalid("'tag' must be a string of at most 280 characters")
    metadata = item.get("metadata")
    if metadata is not None and not isinstance(metadata, list):
        raise invalid("'metadata' must be an array of {key, value} objects")
    url = item.get("deliveryreporturl") or ""
    return {
        "sender": sender,
        "destination": destination,
        "content": content,
        "tag": tag,
        "metadata": metadata or None,
        "deliveryreporturl": url if isinstance(url, str) else "",
        "reference": reference_of(metadata, tag),
    }


def reference_of(metadata: list | None, tag: str) -> str:
    for pair in metadata or ():
        if isinstance(pair, dict) and pair.get("key") == REFERENCE_KEY and pair.get("value"):
            return str(pair["value"])
    return tag


def _common(m: SimMessage, customer_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messageid": m.messageid,
        "id": m.messageid,
        "customerid": customer_id,
        "batchid": m.batchid,
        "sender": m.sender,
        "content": m.content,
        "tag": m.tag,
        "status": m.status,
        "created": m.created,
        "modified": m.modified or m.created,
        "credits": m.credits,
    }
    if m.metadata:
        body["metadata"] = m.metadata
    if m.failurereason:
        body["failurereason"] = m.failurereason
    return body


def message_response(m: SimMessage, customer_id: str) -> dict[str, Any]:
    """Their MessageResponse (destination is a number there)."""
    body = _common(m, customer_id)
    body["destination"] = int(m.destination) if m.destination.isdigit() else m.destination
    body["schedule"] = m.created
    body["deliveryreporturl"] = m.deliveryreporturl
    return body


def receipt_body(m: SimMessage, customer_id: str) -> dict[str, Any]:
    """The delivery report we post to deliveryreporturl (docs/providers/smsworks.md)."""
    body = _common(m, customer_id)
    body["destination"] = m.destination
    if m.deliveredat:
        body["deliveredat"] = m.deliveredat
    return body


def inbound_body(
    *, messageid: str, sender: str, destination: str, content: str, created: str, customer_id: str
) -> dict[str, Any]:
    """The inbound (MO) message we post to the inbound URL (docs/providers/smsworks.md)."""
    words = content.split()
    return {
        "messageid": messageid,
        "id": messageid,
        "customerid": customer_id,
        "status": "INCOMING",
        "sender": sender,
        "destination": destination,
        "content": content,
        "keyword": words[0].upper() if words else "",
        "created": created,
        "modified": created,
    }


def public_message(m: SimMessage) -> dict[str, Any]:
    """The simulator's own view (/_sim/messages, the record file)."""
    body = {
        "seq": m.seq,
        "messageid": m.messageid,
        "batchid": m.batchid,
        "reference": m.reference,
        "tag": m.tag,
        "sender": m.sender,
        "destination": m.destination,
        "content": m.content,
        "deliveryreporturl": m.deliveryreporturl,
        "created": m.created,
        "status": m.status,
        "duplicate": m.duplicate,
    }
    if m.failurereason:
        body["failurereason"] = m.failurereason
    return body


def record_line(m: SimMessage) -> str:
    return json.dumps(public_message(m), ensure_ascii=False, separators=(",", ":")) + "\n"
