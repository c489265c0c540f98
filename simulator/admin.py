"""The simulator's own endpoints under /_sim: health, runtime config, what it
accepted, counters, reset, and a token for pointing the platform at it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable

from aiohttp import web

from simulator.context import SIM
from simulator.wire import SimMessage, digits_of, public_message


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIM].config.public())


async def set_config(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    try:
        changes = json.loads(await request.read() or b"{}")
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object of settings")
        sim.config.update(changes)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(sim.config.public())


async def messages(request: web.Request) -> web.Response:
    """?to=NUMBER &reference=UUID &since=SEQ (only newer) &limit=N; newest first."""
    sim = request.app[SIM]
    store = sim.store
    q = request.query
    try:
        limit = max(1, min(int(q.get("limit", 100)), store.keep))
        since = int(q.get("since", 0))
    except ValueError:
        return web.json_response({"error": "limit and since must be integers"}, status=400)
    source: Iterable[SimMessage] = (
        store.for_destination(digits_of(q["to"])) if q.get("to") else store.newest()
    )
    reference = q.get("reference", "")
    picked = (
        m
        for m in itertools.takewhile(lambda m: m.seq > since, source)
        if not reference or m.reference == reference
    )
    found = [public_message(m) for m in itertools.islice(picked, limit)]
    newest = next(store.newest(), None)
    return web.json_response(
        {"messages": found, "count": len(found), "last_seq": newest.seq if newest else 0}
    )


async def stats(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    body = sim.store.stats()
    body["receipts"]["pending"] = sim.dispatcher.backlog
    body["credits_left"] = sim.config.credits
    return web.json_response(body)


async def reset(request: web.Request) -> web.Response:
    """Forget every message and counter, drop pending receipts, empty the record file."""
    sim = request.app[SIM]
    sim.dispatcher.clear()
    sim.store.reset()
    sim.store.recorder.truncate()
    return web.json_response({"ok": True})


async def token(request: web.Request) -> web.Response:
    value = request.app[SIM].mint_token()
    return web.json_response({"jwt": value, "authorization": f"JWT {value}"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/health", health)
    app.router.add_get("/_sim/config", get_config)
    app.router.add_post("/_sim/config", set_config)
    app.router.add_get("/_sim/messages", messages)
    app.router.add_get("/_sim/stats", stats)
    app.router.add_post("/_sim/reset", reset)
    app.router.add_get("/_sim/token", token)
