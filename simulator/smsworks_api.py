"""The SMS Works API (their OpenAPI 1.9.0 paths under /v1), with JWT auth and
the injected faults in front of it."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from simulator.context import SIM, Sim
from simulator.wire import (
    MAX_BATCH,
    REFERENCE_KEY,
    ApiError,
    SimMessage,
    digits_of,
    invalid,
    message_response,
    now_iso,
    opted_out,
    parse_message,
    reference_of,
    segments,
    unauthorized,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def api_error(error: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(error.body(), status=error.http, headers=headers)


def not_found(what: str) -> web.Response:
    return web.json_response({"message": f"{what} not found"}, status=404)  # their ErrorModel


@web.middleware
async def api_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Injected faults, then auth, then their error shape for every ApiError."""
    if not request.path.startswith("/v1/"):
        return await handler(request)
    sim = request.app[SIM]
    c = sim.config
    if c.rate_timeout and random.random() < c.rate_timeout:
        sim.store.faults["timeout"] += 1
        if not c.timeout_accepts:
            await asyncio.sleep(c.timeout_ms / 1000)
            return api_error(
                ApiError(504, 504, "GATEWAY_TIMEOUT", "Gateway timeout", permanent=False)
            )
        # Accepted at once, answered too late: the client cannot tell whether it was sent.
        response = await _guarded(sim, request, handler)
        await asyncio.sleep(c.timeout_ms / 1000)
        return response
    if c.rate_429 and random.random() < c.rate_429:
        sim.store.faults["429"] += 1
        error = ApiError(429, 429, "TOO_MANY_REQUESTS", "Rate limit exceeded", permanent=False)
        return api_error(error, headers={"Retry-After": "1"})
    if c.rate_5xx and random.random() < c.rate_5xx:
        sim.store.faults["5xx"] += 1
        status = random.choice((500, 502, 503))
        return api_error(
            ApiError(status, status, "SERVER_ERROR", "Internal server error", permanent=False)
        )
    if c.rate_slow and random.random() < c.rate_slow:
        sim.store.faults["slow"] += 1
        await asyncio.sleep(c.slow_ms / 1000)
    return await _guarded(sim, request, handler)


async def _guarded(sim: Sim, request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        _authorize(sim, request)
        return await handler(request)
    except ApiError as error:
        return api_error(error)


def _authorize(sim: Sim, request: web.Request) -> None:
    header = request.headers.get("Authorization", "").strip()
    scheme, _, rest = header.partition(" ")
    token = rest.strip() if scheme.lower() in ("jwt", "bearer") else header
    why = sim.token_valid(token) if token else "missing Authorization header"
    if why:
        sim.store.counts["auth_failures"] += 1
        raise unauthorized(why)


async def _json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError:
        raise invalid("The request body is not valid JSON") from None


def _credits_for(fields: dict[str, Any]) -> float:
    # Their pricing: one credit a segment, typically double outside the UK.
    parts = segments(fields["content"])
    return float(parts if fields["destination"].startswith("44") else parts * 2)


# --- sending ---
async def send_message(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    fields = parse_message(await _json(request))
    if sim.is_opted_out(fields["destination"]):
        raise opted_out()
    credits = _credits_for(fields)
    sim.charge(credits)
    await sim.dispatcher.room()
    message = sim.new_message(fields, credits=credits)
    sim.store.add([message])
    sim.dispatcher.schedule_receipts([message])
    body = {
        "messageid": message.messageid,
        "status": "SENT",
        "credits": sim.credits_left(),
        "creditsUsed": credits,
    }
    return web.json_response(body, status=201)


async def send_batch_any(request: web.Request) -> web.Response:
    items = await _json(request)
    if not isinstance(items, list) or not items:
        raise invalid("The body must be a non-empty array of messages")
    return await _accept_batch(request.app[SIM], items)


async def send_batch_same(request: web.Request) -> web.Response:
    batch = await _json(request)
    destinations = batch.get("destinations") if isinstance(batch, dict) else None
    if not isinstance(destinations, list) or not destinations:
        raise invalid("'destinations' must be a non-empty array")
    common = {k: v for k, v in batch.items() if k != "destinations"}
    return await _accept_batch(
        request.app[SIM], [{**common, "destination": d} for d in destinations]
    )


async def _accept_batch(sim: Sim, items: list[Any]) -> web.Response:
    if len(items) > MAX_BATCH:
        raise ApiError(
            400, 1004, "BATCH_TOO_LARGE", f"A batch can hold at most {MAX_BATCH} messages"
        )
    batchid = sim.batch_ids()
    created = now_iso()
    messages: list[SimMessage] = []
    total = 0.0
    for item in items:
        try:
            fields = parse_message(item)
            if sim.is_opted_out(fields["destination"]):
                raise opted_out()
        except ApiError as error:
            messages.append(_rejected(sim, item, error, batchid, created))
            continue
        credits = _credits_for(fields)
        total += credits
        messages.append(sim.new_message(fields, credits=credits, batchid=batchid, created=created))
    sim.charge(total)
    await sim.dispatcher.room()
    sim.store.add(messages, batchid=batchid)
    sim.dispatcher.schedule_receipts([m for m in messages if m.status != "REJECTED"])
    return web.json_response({"batchid": batchid, "status": "SCHEDULED"}, status=201)


def _rejected(sim: Sim, item: Any, error: ApiError, batchid: str, created: str) -> SimMessage:
    """A batch member that failed validation: listed in the batch as REJECTED."""
    item = item if isinstance(item, dict) else {}
    metadata = item.get("metadata") if isinstance(item.get("metadata"), list) else None
    tag = item.get("tag") if isinstance(item.get("tag"), str) else ""
    fields = {
        "sender": str(item.get("sender") or ""),
        "destination": digits_of(str(item.get("destination") or "")),
        "content": str(item.get("content") or ""),
        "tag": tag,
        "metadata": metadata,
        "deliveryreporturl": str(item.get("deliveryreporturl") or ""),
        "reference": reference_of(metadata, tag),
    }
    message = sim.new_message(fields, credits=0.0, batchid=batchid, created=created)
    message.status = "REJECTED"
    message.failurereason = error.failure_reason()
    return message


# --- reading ---
async def get_message(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    message = sim.store.messages.get(request.match_info["messageid"])
    if message is None:
        return not_found("Message")
    return web.json_response(message_response(message, sim.config.customer_id))


async def get_batch(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    messages = sim.store.batches.get(request.match_info["batchid"])
    if messages is None:
        return not_found("Batch")
    customer = sim.config.customer_id
    return web.json_response([message_response(m, customer) for m in messages])


async def query_messages(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    query = await _json(request)
    if not isinstance(query, dict):
        raise invalid("The query must be a JSON object")
    try:
        limit = min(1000, max(1, int(query.get("limit") or 1000)))
        skip = max(0, int(query.get("skip") or 0))
    except (TypeError, ValueError):
        raise invalid("'limit' and 'skip' must be numbers") from None
    found: list[dict] = []
    customer = sim.config.customer_id
    for message in _candidates(sim, query):
        if not _matches(message, query):
            continue
        if skip:
            skip -= 1
            continue
        found.append(message_response(message, customer))
        if len(found) >= limit:
            break
    return web.json_response(found)


def _candidates(sim: Sim, query: dict[str, Any]) -> Iterable[SimMessage]:
    for pair in query.get("metadata") or ():
        if isinstance(pair, dict) and pair.get("key") == REFERENCE_KEY:
            message = sim.store.by_reference.get(str(pair.get("value")))
            return [message] if message else []
    if query.get("destination"):
        return sim.store.for_destination(digits_of(str(query["destination"])))
    return sim.store.newest()


def _matches(m: SimMessage, query: dict[str, Any]) -> bool:
    if query.get("status") and m.status != str(query["status"]).upper():
        return False
    if query.get("destination") and m.destination != digits_of(str(query["destination"])):
        return False
    if query.get("sender") and m.sender != digits_of(str(query["sender"])):
        return False
    for pair in query.get("metadata") or ():
        if isinstance(pair, dict) and pair not in (m.metadata or ()):
            return False
    start, end = _when(query.get("from")), _when(query.get("to"))
    if not (start or end):
        return True
    created = _when(m.created)
    return not created or not ((start and created < start) or (end and created > end))


def _when(value: Any) -> datetime | None:
    """ISO 8601, or the JavaScript Date text of their examples."""
    if not value:
        return None
    text = str(value).strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = datetime.strptime(text.split(" (")[0], "%a %b %d %Y %H:%M:%S GMT%z")
        except ValueError:
            return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


async def credits_balance(request: web.Request) -> web.Response:
    return web.json_response({"credits": request.app[SIM].credits_left()})


async def utils_test(request: web.Request) -> web.Response:
    return web.json_response({"message": request.app[SIM].config.customer_id})


async def unknown(request: web.Request) -> web.Response:
    return not_found(f"{request.method} {request.path}")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/message/send", send_message)
    app.router.add_post("/v1/batch/any", send_batch_any)
    app.router.add_post("/v1/batch/send", send_batch_same)
    app.router.add_get("/v1/batch/{batchid}", get_batch)
    app.router.add_get("/v1/messages/{messageid}", get_message)
    app.router.add_post("/v1/messages", query_messages)
    app.router.add_get("/v1/credits/balance", credits_balance)
    app.router.add_get("/v1/utils/test", utils_test)
    app.router.add_route("*", "/v1/{tail:.*}", unknown)
