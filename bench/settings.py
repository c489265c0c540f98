"""smsworks.settings for the benchmark processes, with static files collected into
var/bench/static by plain copy (no hashed manifest), so that a production-mode
(DEBUG off) server can render its error pages without writing into a developer's
var/staticfiles and whatever state the static folder is in. Nothing the engine does
touches static files.

BENCH_CONN_HEALTH_CHECKS=off turns Django's per-request connection health check
(a SELECT 1 round trip before a request's first query) off, for what-if runs only
(receipts.py --no-health-checks); the product keeps it on (smsworks/config.py)."""

import os

from smsworks.settings import *  # noqa: F403
from smsworks.settings import DATABASES, STORAGES, VAR_DIR

STATIC_ROOT = VAR_DIR / "bench" / "static"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if os.environ.get("BENCH_CONN_HEALTH_CHECKS") == "off":
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
