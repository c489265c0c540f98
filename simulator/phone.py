"""The virtual phone: read what a number received, text the platform back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator.context import SIM
from simulator.wire import digits_of, inbound_body, new_message_id, now_iso

PAGE = (Path(__file__).parent / "phone.html").read_bytes()


async def page(request: web.Request) -> web.Response:
    return web.Response(body=PAGE, content_type="text/html", charset="utf-8")


async def numbers(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return web.json_response(
        {
            "numbers": sim.store.known_numbers(),
            "platform_numbers": sim.store.platform_numbers(),
            "inbound_url": sim.config.inbound_url,
        }
    )


async def thread(request: web.Request) -> web.Response:
    """Both directions for one phone number, newest first."""
    sim = request.app[SIM]
    number = digits_of(request.query.get("number", ""))
    try:
        limit = max(1, min(int(request.query.get("limit", 100)), 1000))
    except ValueError:
        limit = 100
    items: list[dict[str, Any]] = []
    for m in sim.store.for_destination(number):
        if len(items) >= limit:
            break
        items.append(
            {
                "direction": "received",
                "messageid": m.messageid,
                "from": m.sender,
                "to": m.destination,
                "body": m.content,
                "at": m.created,
                "status": m.status,
            }
        )
    sent = [dict(text, direction="sent") for text in sim.store.phone_sent if text["from"] == number]
    items = sorted(items + sent[-limit:], key=lambda item: item["at"], reverse=True)[:limit]
    return web.json_response({"number": number, "messages": items})


async def send_inbound(request: web.Request) -> web.Response:
    """A phone texts a platform number: post the inbound body to the inbound URL.
    JSON or form {from, to, body}."""
    sim = request.app[SIM]
    if request.content_type == "application/json":
        try:
            data = json.loads(await request.read() or b"{}")
        except ValueError:
            data = None
    else:
        data = dict(await request.post())
    if not isinstance(data, dict):
        return web.json_response({"ok": False, "error": "send a JSON object"}, status=400)
    sender = digits_of(str(data.get("from") or ""))
    to = digits_of(str(data.get("to") or ""))
    text = str(data.get("body") or "")
    if not sender.isdigit() or not 7 <= len(sender) <= 15:
        return web.json_response(
            {"ok": False, "error": "'from' must be a phone number"}, status=400
        )
    if not to or not text:
        return web.json_response({"ok": False, "error": "'to' and 'body' are required"}, status=400)
    created = now_iso()
    record = {
        "messageid": new_message_id(),
        "from": sender,
        "to": to,
        "body": text,
        "at": created,
        "status": "NOT_POSTED",
    }
    sim.store.add_phone_text(record)
    url = sim.config.inbound_url
    if not url:
        return web.json_response(
            {"ok": False, "messageid": record["messageid"], "error": "no inbound_url configured"},
            status=409,
        )
    body = inbound_body(
        messageid=record["messageid"],
        sender=sender,
        destination=to,
        content=text,
        created=created,
        customer_id=sim.config.customer_id,
    )
    status, detail, retrying = await sim.dispatcher.send_inbound(url, body, record)
    ok = 200 <= status < 300
    record["status"] = "POSTED" if ok else ("RETRYING" if retrying else "FAILED")
    return web.json_response(
        {
            "ok": ok,
            "messageid": record["messageid"],
            "platform_status": status,
            "detail": detail,
            "retrying": retrying,
        },
        status=200 if ok else 502,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/phone", page)
    app.router.add_get("/_sim/phone/numbers", numbers)
    app.router.add_get("/_sim/phone/thread", thread)
    app.router.add_post("/_sim/inbound", send_inbound)
