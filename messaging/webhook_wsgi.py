"""The providers' receipt and inbound webhooks as a plain WSGI application.

Providers call these two paths once per message sent and per text received: at
bulk rates, thousands of times a second. Django's request cycle (URL resolution,
the response object and middleware chain) cost these calls more CPU than their own
work. Measured on one machine in one sitting with bench/receipts.py (aiohttp
client): gunicorn's CPU per receipt 1.38 ms through Django's short stack, 0.98 ms
here, and 740 -> 1,020 receipts/s; in one process, 0.59 -> about 0.38 ms. So
smsworks.wsgi sends these two paths here first.

The work is the same code as Django's views (`messaging.webhooks.webhook_answer`:
verified, 403 and nothing changed otherwise, stored before answering). Where
Django's rules decide something they still do: the request is Django's WSGIRequest
(ALLOWED_HOSTS and the proxy headers, the script prefix, the upload size limit),
the request_started and request_finished signals are sent (their receivers close
old or broken database connections), errors go through Django's exception handling
and logging, 4xx answers are logged as Django logs them, and every answer carries
the headers SecurityMiddleware and XFrameOptionsMiddleware would add (tests compare
the two ways for the same calls).

Whatever is out of the common case is handed to Django's handler before anything
is read: another method, a multipart body, a disallowed host, plain HTTP with
SECURE_SSL_REDIRECT on, DISALLOWED_USER_AGENTS or PREPEND_WWW set, a body over
the upload limit or of unknown length, an unknown or inactive account. Django
answers those as it always did (405, 400, the redirect, the 404 page)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from http import HTTPStatus

from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.http import HttpResponse
from django.urls import set_script_prefix
from django.utils.log import log_response

from messaging import webhooks
from messaging.services import backend_of

# The paths of messaging.urls' webhook_receipts and webhook_inbound, and nothing else
# (their uuid converter's pattern; tests/messaging/test_webhook_handler.py checks it).
PATH = re.compile(
    r"/webhooks/(?P<public_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"/(?P<kind>receipts|inbound)/"
)

StartResponse = Callable[..., object]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


class ProviderWebhookApp:
    """Answers the calls whose path PATH matched; `django` answers what it hands on."""

    def __init__(self, django: WSGIApp) -> None:
        self.django = django

    def __call__(
        self, environ: dict, start_response: StartResponse, match: re.Match
    ) -> Iterable[bytes]:
        if _unusual(environ):
            return self.django(environ, start_response)
        set_script_prefix(get_script_name(environ))
        signals.request_started.send(sender=self.__class__, environ=environ)
        request = WSGIRequest(environ)
        try:
            answer = _answer(request, match["kind"], match["public_id"])
        except Exception as exc:  # Django's answer and log, as its handler would give
            answer = _from_response(request, response_for_exception(request, exc))
        if answer is None:  # nothing read yet: Django's handler answers it
            return self.django(environ, start_response)
        signals.request_finished.send(sender=self.__class__)  # as HttpResponse.close does
        status, headers, content = answer
        start_response(status, headers)
        return [content]


Answer = tuple[str, list[tuple[str, str]], bytes]


def _unusual(environ: dict) -> bool:
    return (
        environ.get("REQUEST_METHOD") not in ("GET", "POST")
        or _media_type(environ) == "multipart/form-data"
        or bool(settings.DISALLOWED_USER_AGENTS)
        or settings.PREPEND_WWW
    )


def _answer(request: WSGIRequest, kind: str, public_id: str) -> Answer | None:
    try:
        request.get_host()
    except DisallowedHost:
        return None
    secure = request.is_secure()
    if settings.SECURE_SSL_REDIRECT and not secure:
        return None
    length = request.META.get("CONTENT_LENGTH") or "0"
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if not length.isdigit() or (limit is not None and int(length) > limit):
        return None
    account = webhooks.active_account(public_id)
    if account is None:
        return None
    backend = backend_of(account)
    webhook = webhooks.webhook_request(request, backend)
    status, content_type, content = webhooks.webhook_answer(
        kind, account, backend, webhook, request.META.get("REMOTE_ADDR")
    )
    if status >= 400:  # logged as Django's handler logs it
        response = HttpResponse(content, status=status, content_type=content_type)
        return _from_response(request, response)
    headers = [("Content-Type", content_type), ("Content-Length", str(len(content)))]
    return f"{status} {HTTPStatus(status).phrase}", headers + security_headers(secure), content


def _from_response(request: WSGIRequest, response: HttpResponse) -> Answer:
    """An HttpResponse (an error answer) as WSGI: logged as Django's handler logs it,
    with the security headers."""
    if response.status_code >= 400:
        log_response(
            "%s: %s", response.reason_phrase, request.path, response=response, request=request
        )
    content = response.content
    for name, value in security_headers(request.is_secure()):
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Length", str(len(content)))
    return f"{response.status_code} {response.reason_phrase}", list(response.items()), content


def security_headers(secure: bool) -> list[tuple[str, str]]:
    """The headers SecurityMiddleware and XFrameOptionsMiddleware add to an answer."""
    headers = []
    if secure and settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if policy := settings.SECURE_REFERRER_POLICY:
        if isinstance(policy, str):
            policy = [v.strip() for v in policy.split(",")]
        headers.append(("Referrer-Policy", ",".join(policy)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    headers.append(("X-Frame-Options", settings.X_FRAME_OPTIONS.upper()))
    return headers


def _media_type(environ: dict) -> str:
    return environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
