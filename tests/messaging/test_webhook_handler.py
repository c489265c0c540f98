"""smsworks.wsgi: the providers' receipt and inbound webhooks go to messaging.webhook_wsgi
first (the common case without Django's request cycle, the rest handed to Django's handler
with only the middleware that applies); every other path through the full stack."""

import json
import logging
import re
import uuid
from urllib.parse import urlencode

import pytest
from django.urls import resolve, reverse

from messaging import webhooks
from messaging.models import PendingReceipt
from messaging.webhook_wsgi import PATH, ProviderWebhookApp
from smsworks import wsgi
from tests.factories import ProviderAccountFactory
from tests.messaging.wsgi_client import WSGIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def call():
    client = WSGIClient()

    def call(method: str, path: str, query: str = "", body: bytes = b"", **environ_extra):
        answer = client.request(method, f"{path}?{query}", body, **environ_extra)
        return answer.status_code, answer.headers, answer.content

    return call


@pytest.fixture
def account():
    return ProviderAccountFactory(backend="console", credentials={})


def test_only_the_provider_webhooks_take_the_short_stack(account):
    for name in ("webhook_receipts", "webhook_inbound"):
        path = reverse(f"messaging:{name}", args=[account.public_id])
        assert wsgi.PROVIDER_WEBHOOK_PATH.fullmatch(path)
        assert resolve(path).func in (webhooks.receipt_webhook, webhooks.inbound_webhook)
    for path in (
        "/",
        "/accounts/login/",
        reverse("integrations:endpoint_list"),
        f"/webhooks/{uuid.uuid4()}/receipts/x/",
        f"/x/webhooks/{uuid.uuid4()}/inbound/",
        f"/webhooks/{str(uuid.uuid4()).upper()}/inbound/",
    ):
        assert not wsgi.PROVIDER_WEBHOOK_PATH.fullmatch(path), path


def test_a_receipt_is_stored_with_security_headers_and_no_browser_middleware(call, account):
    path = reverse("messaging:webhook_receipts", args=[account.public_id])
    body = json.dumps({"id": "p-1", "status": "delivered"}).encode()

    status, headers, _ = call("POST", path, f"token={account.webhook_secret}", body)

    assert status == 200
    assert PendingReceipt.objects.get().provider_message_id == "p-1"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "set-cookie" not in headers
    assert "content-security-policy" not in headers


def test_a_bad_signature_still_gets_403_and_stores_nothing(call, account):
    path = reverse("messaging:webhook_receipts", args=[account.public_id])
    body = json.dumps({"id": "p-1", "status": "delivered"}).encode()

    assert call("POST", path, "token=wrong", body)[0] == 403
    assert call("POST", path, "", body)[0] == 403
    assert not PendingReceipt.objects.exists()


def test_an_unknown_account_still_gets_the_404_page(call):
    path = reverse("messaging:webhook_inbound", args=[uuid.uuid4()])

    status, _, content = call("POST", path, "token=x", b"{}")

    assert status == 404
    assert b"Page not found" in content


def test_every_other_path_keeps_the_full_stack(call):
    status, headers, _ = call("GET", reverse("integrations:endpoint_list"))

    assert status == 302 and "/accounts/login/" in headers["location"]  # authentication
    assert "content-security-policy" in headers
    status, headers, _ = call("GET", "/accounts/login/")
    assert status == 200
    assert "csrftoken" in headers.get("set-cookie", "")


def test_the_json_api_takes_the_short_stack_but_not_its_documentation():
    for path in ("/api/v1/messages", "/api/v1/messages/batch", "/api/v1/otp/send", "/api/v1/x"):
        assert wsgi.API_PATH.fullmatch(path), path
    for path in ("/api/v1/schema/", "/api/v1/docs/", "/integrations/keys/", "/api/v2/messages"):
        assert not wsgi.API_PATH.fullmatch(path), path


def test_an_api_call_is_answered_by_key_with_security_headers_and_no_cookie(call):
    from api.keys import api_key_create

    status, headers, content = call("GET", "/api/v1/messages")
    assert status == 401
    assert json.loads(content)["error"]["code"]
    assert headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in headers

    _, full = api_key_create(name="CRM", scopes=["read"], created_by=None)
    status, headers, content = call("GET", "/api/v1/messages", HTTP_AUTHORIZATION=f"Bearer {full}")
    assert status == 200
    assert json.loads(content)["results"] == []
    assert "set-cookie" not in headers and "content-security-policy" not in headers

    status, headers, _ = call("GET", "/api/v1/docs/")  # the Swagger page: full stack
    assert "content-security-policy" in headers


# --- messaging.webhook_wsgi: the provider webhooks without Django's request cycle ---


def _both(method, path, body=b"", **environ):
    """The same call through smsworks.wsgi (the webhook app) and through Django's
    handler for these paths (what the app hands on to, and what served them before)."""
    django = wsgi.MachineHandler()  # new: middleware read settings when loaded
    app = ProviderWebhookApp(django)

    def through_app(environ, start_response):  # as smsworks.wsgi.application calls it
        return app(environ, start_response, PATH.fullmatch(environ["PATH_INFO"]))

    return (
        WSGIClient(through_app).request(method, path, body, **environ),
        WSGIClient(django).request(method, path, body, **environ),
    )


def _receipt_path(account, token=None):
    path = reverse("messaging:webhook_receipts", args=[account.public_id])
    return f"{path}?token={account.webhook_secret if token is None else token}"


RECEIPT = json.dumps({"id": "p-1", "status": "delivered"}).encode()
FORM_DATA = b'--x\r\nContent-Disposition: form-data; name="id"\r\n\r\np-1\r\n--x--\r\n'


@pytest.mark.parametrize(
    ("settings_changes", "environ"),
    [
        ({}, {}),
        (
            {
                "SECURE_HSTS_SECONDS": 3600,
                "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
                "SECURE_HSTS_PRELOAD": True,
                "SECURE_REFERRER_POLICY": ["same-origin", "strict-origin"],
                "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin-allow-popups",
                "X_FRAME_OPTIONS": "sameorigin",
            },
            {"wsgi.url_scheme": "https"},
        ),
        (
            {
                "SECURE_HSTS_SECONDS": 0,
                "SECURE_CONTENT_TYPE_NOSNIFF": False,
                "SECURE_REFERRER_POLICY": None,
                "SECURE_CROSS_ORIGIN_OPENER_POLICY": None,
                "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
            },
            {"HTTP_X_FORWARDED_PROTO": "https"},
        ),
    ],
)
@pytest.mark.parametrize("token", ["good", "wrong"])
def test_the_webhook_app_answers_as_djangos_handler_does(
    account, settings, settings_changes, environ, token
):
    for name, value in settings_changes.items():
        setattr(settings, name, value)
    path = _receipt_path(account, None if token == "good" else "wrong")

    app, django = _both("POST", path, RECEIPT, **environ)

    assert (app.status_code, app.headers, app.content) == (
        django.status_code,
        django.headers,
        django.content,
    )
    assert app.status_code == (200 if token == "good" else 403)
    assert PendingReceipt.objects.count() == (2 if token == "good" else 0)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"method": "PUT"}, 405),
        ({"environ": {"HTTP_HOST": "evil.example"}}, 400),
        ({"settings": {"SECURE_SSL_REDIRECT": True}}, 301),
        ({"settings": {"DISALLOWED_USER_AGENTS": [re.compile("curl")]}}, 403),
        ({"settings": {"DATA_UPLOAD_MAX_MEMORY_SIZE": 10}}, 400),
        # a form body Django parses (the console backend wants JSON: 400, not a 500)
        ({"environ": {"CONTENT_TYPE": "multipart/form-data; boundary=x"}, "body": FORM_DATA}, 400),
        ({"account": "inactive"}, 404),
    ],
)
def test_what_is_out_of_the_common_case_is_handed_to_django(account, settings, change, expected):
    for name, value in change.get("settings", {}).items():
        setattr(settings, name, value)
    if change.get("account"):
        account.is_active = False
        account.save()
    environ = {"HTTP_USER_AGENT": "curl/8", **change.get("environ", {})}

    method, body = change.get("method", "POST"), change.get("body", RECEIPT)
    app, django = _both(method, _receipt_path(account), body, **environ)

    assert app.status_code == django.status_code == expected
    assert app.headers == django.headers and app.content == django.content
    assert not PendingReceipt.objects.exists()


def test_an_error_inside_the_webhook_app_gets_djangos_answer_and_log(account, settings, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    path = _receipt_path(account) + "&a=1&b=2&c=3"

    with caplog.at_level(logging.WARNING, logger="django.request"):
        app, django = _both("POST", path, RECEIPT)

    assert app.status_code == django.status_code == 400  # TooManyFieldsSent
    assert app.content == django.content
    assert not PendingReceipt.objects.exists()
    logged = [r for r in caplog.records if r.name == "django.security.TooManyFieldsSent"]
    assert len(logged) == 2


def test_a_refused_webhook_is_logged_as_djangos_handler_logs_it(account, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        app, _ = _both("POST", _receipt_path(account, "wrong"), RECEIPT)

    assert app.status_code == 403
    forbidden = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in forbidden] == [
        f"Forbidden: {reverse('messaging:webhook_receipts', args=[account.public_id])}"
    ] * 2
    assert all(r.status_code == 403 for r in forbidden)


def test_a_twilio_status_callback_signed_over_the_url_is_verified_by_the_app(settings):
    from twilio.request_validator import RequestValidator

    settings.ALLOWED_HOSTS = ["sms.example.com"]
    account = ProviderAccountFactory(
        backend="twilio", credentials={"account_sid": "AC1", "auth_token": "secret-token"}
    )
    path = reverse("messaging:webhook_receipts", args=[account.public_id])
    form = {"MessageSid": "SM1", "MessageStatus": "delivered", "ErrorCode": ""}
    signed = RequestValidator("secret-token").compute_signature(
        f"https://sms.example.com{path}", form
    )
    environ = {
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "HTTP_HOST": "sms.example.com",
        "wsgi.url_scheme": "https",
    }
    body = urlencode(form).encode()

    client = WSGIClient()
    bad = client.request("POST", path, body, HTTP_X_TWILIO_SIGNATURE="bm9wZQ==", **environ)
    assert bad.status_code == 403 and not PendingReceipt.objects.exists()
    good = client.request("POST", path, body, HTTP_X_TWILIO_SIGNATURE=signed, **environ)
    assert good.status_code == 200 and good.headers["content-type"] == "text/xml"
    assert PendingReceipt.objects.get().provider_message_id == "SM1"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"a=1&b=&c",
        b"a=1&a=2",
        b"To=%2B447911123456&Body=Hi+there%21+%F0%9F%98%80",
        b"bad=%ZZ&x=%E9",
        "Body=café".encode("latin-1"),
    ],
)
def test_fields_are_read_as_djangos_querydict_reads_them(raw):
    from django.http import QueryDict

    from messaging.webhooks import _fields

    assert _fields(raw) == dict(QueryDict(raw).items())
