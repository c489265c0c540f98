"""The WSGI application: Django's handler, and for the paths only machines call a
second Django handler with only the middleware that applies to them; the two
provider webhook paths go first to messaging.webhook_wsgi, which answers the
common case without Django's request cycle and hands the rest to that handler.

Those paths are the providers' receipt and inbound webhooks and the JSON REST API
(authenticated by key on every request, never by session). They are called up to
thousands of times a second and answer JSON or plain text: sessions, CSRF (the views
are exempt), session authentication, messages, CSP, HTMX, axes and static files do
nothing for them but cost a fifth of a webhook's CPU. Every other path goes through
the full stack: the outbound-webhook pages under /webhooks/, the API key pages, and
the API's own schema and Swagger page (HTML, with its CSP)."""

import gc
import os
import re

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.test.utils import override_settings
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsworks.settings")

# The REST API (api.urls) except its schema and documentation page.
API_PATH = re.compile(r"/api/v1/(?!schema/|docs/).*")
MACHINE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


class MachineHandler(WSGIHandler):
    """Django's handler with MACHINE_MIDDLEWARE only."""

    def load_middleware(self, is_async: bool = False) -> None:
        with override_settings(MIDDLEWARE=MACHINE_MIDDLEWARE):
            super().load_middleware(is_async)


site = get_wsgi_application()
machines = MachineHandler()

from messaging.webhook_wsgi import PATH as PROVIDER_WEBHOOK_PATH  # noqa: E402 - after setup
from messaging.webhook_wsgi import ProviderWebhookApp  # noqa: E402

provider_webhooks = ProviderWebhookApp(machines)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if match := PROVIDER_WEBHOOK_PATH.fullmatch(path):
        return provider_webhooks(environ, start_response, match)
    if API_PATH.fullmatch(path):
        return machines(environ, start_response)
    return site(environ, start_response)


# Import the URLconf (and with it every view module) now, then move everything
# loaded so far to the garbage collector's permanent generation. These objects live
# as long as the process; left in the collector's care, each full collection walked
# all of them (110,000 at startup) while holding the GIL: under load that stalled
# every thread of the worker for 65-200 ms a few times a minute, the tail of the
# receipt webhook's latency. Collections now walk only what requests create.
get_resolver().url_patterns  # noqa: B018 - imports every view module
gc.freeze()
