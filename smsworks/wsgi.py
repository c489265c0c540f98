"""The WSGI application: Django's handler, and for the paths only machines call a
second Django handler with only the middleware that applies to them.

Those paths are the providers' receipt and inbound webhooks and the JSON REST API
(authenticated by key on every request, never by session). They are called up to
thousands of times a second and answer JSON or plain text: sessions, CSRF (the views
are exempt), session authentication, messages, CSP, HTMX, axes and static files do
nothing for them but cost a fifth of a webhook's CPU. Every other path goes through
the full stack: the outbound-webhook pages under /webhooks/, the API key pages, and
the API's own schema and Swagger page (HTML, with its CSP)."""

import os
import re

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.test.utils import override_settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsworks.settings")

# The paths of messaging.urls' webhook_receipts and webhook_inbound, and nothing else
# (their uuid converter's pattern; tests/messaging/test_webhook_handler.py checks it).
PROVIDER_WEBHOOK_PATH = re.compile(
    r"/webhooks/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/(receipts|inbound)/"
)
# The REST API (api.urls) except its schema and documentation page.
API_PATH = re.compile(r"/api/v1/(?!schema/|docs/).*")
PROVIDER_WEBHOOK_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


class ProviderWebhookHandler(WSGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        with override_settings(MIDDLEWARE=PROVIDER_WEBHOOK_MIDDLEWARE):
            super().load_middleware(is_async)


site = get_wsgi_application()
provider_webhooks = ProviderWebhookHandler()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if PROVIDER_WEBHOOK_PATH.fullmatch(path) or API_PATH.fullmatch(path):
        return provider_webhooks(environ, start_response)
    return site(environ, start_response)
