"""gunicorn.conf.py, the web process's production settings, as gunicorn runs them.

A provider (or a proxy) opens its connections at once and keeps them alive. With one
listening socket shared by the workers, the worker first in accept() took all of
them: under bench/receipts.py one worker served every receipt at 90 % of a CPU while
the other idled. The file gives each worker its own socket (reuse_port), so the
kernel spreads connections over the workers."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.processes import BIN, ROOT, child_env, wait_for
from tests.simulator.process import free_port

CONNECTIONS = 16  # all on one of two sockets by chance: 2 in 65,536


def _listening_sockets(port: int) -> int:
    """Sockets listening on 127.0.0.1:port (/proc/net/tcp: state 0A is LISTEN)."""
    local = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == local and line.split()[3] == "0A")


@pytest.mark.django_db
def test_connections_opened_at_once_are_spread_over_the_workers(tmp_path):
    port, log = free_port(), tmp_path / "access.log"
    argv = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "smsworks.wsgi"]
    argv += ["-b", f"127.0.0.1:{port}", "-w", "2", "--access-logfile", str(log)]
    argv += ["--access-logformat", "%(p)s"]
    server = subprocess.Popen(
        argv, cwd=ROOT, env=child_env(), start_new_session=True, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(  # each worker binds its own socket as it boots
            lambda: server.poll() is not None or _listening_sockets(port) == 2,
            timeout=60,
            interval=0.05,
            what="two workers listening",
        )
        assert server.poll() is None, "gunicorn exited"
        clients = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(CONNECTIONS)
        ]
        for client in clients:  # all connected before any request: as wrk or a proxy does
            client.connect()
        for _ in range(2):  # two requests on each kept-alive connection
            for client in clients:
                client.request("GET", "/no-such-page/")
                client.getresponse().read()
        for client in clients:
            client.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)

    served_by: dict[str, int] = {}
    for pid in log.read_text().split():
        served_by[pid] = served_by.get(pid, 0) + 1
    assert sum(served_by.values()) == 2 * CONNECTIONS
    assert len(served_by) == 2, served_by
