"""Wires the parts into one aiohttp application."""

from __future__ import annotations

import logging

from aiohttp import web

from simulator import admin, phone, smsworks_api
from simulator.config import SimConfig
from simulator.context import SIM, Sim
from simulator.receipts import Dispatcher
from simulator.state import Recorder, Store

logger = logging.getLogger("simulator")


def build_app(config: SimConfig) -> web.Application:
    app = web.Application(middlewares=[smsworks_api.api_gate], client_max_size=32 * 1024**2)
    store = Store(keep=config.keep, recorder=Recorder(config.record))
    app[SIM] = Sim(config=config, store=store, dispatcher=Dispatcher(config, store))
    smsworks_api.add_routes(app)
    admin.add_routes(app)
    phone.add_routes(app)
    app.router.add_get("/", _index)
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return app


async def _index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/phone")


async def _start(app: web.Application) -> None:
    sim = app[SIM]
    await sim.dispatcher.start()
    c = sim.config
    logger.info(
        "SMS Works simulator on http://%s:%d (API /v1, phone /phone, admin /_sim); recording to %s",
        c.host,
        c.port,
        c.record,
    )


async def _stop(app: web.Application) -> None:
    sim = app[SIM]
    await sim.dispatcher.stop()
    sim.store.recorder.close()


def run(config: SimConfig) -> None:
    web.run_app(
        build_app(config),
        host=config.host,
        port=config.port,
        access_log=logging.getLogger("aiohttp.access") if config.access_log else None,
        print=None,
        shutdown_timeout=2.0,
        handle_signals=True,
    )
