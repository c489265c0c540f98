"""Drills need PostgreSQL and Redis (real processes share the test database) and a
redis-server binary for the private broker. The full-size ones run only under
`make drills` (marker drill_full, deselected by default in pyproject.toml; skipped
here too unless SMSWORKS_DRILLS=full, so `pytest -m "not browser"` cannot start a
50,000-message drill by accident)."""

from __future__ import annotations

import logging
import os
import shutil

import pytest

logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise


def pytest_collection_modifyitems(config, items):
    full = os.environ.get("SMSWORKS_DRILLS") == "full"
    skip_full = pytest.mark.skip(reason="full-size drill: run it with `make drills`")
    for item in items:
        if "drill_full" in item.keywords and not full:
            item.add_marker(skip_full)


@pytest.fixture
def drill_backends(transactional_db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("fault drills need PostgreSQL (they run real processes on the test database)")
    if not shutil.which("redis-server"):
        pytest.skip("fault drills need redis-server on PATH (they run a private Redis)")
