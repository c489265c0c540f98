"""smsworks.wsgi: the providers' receipt and inbound webhooks go through a Django
handler with only the middleware that applies to them; every other path through the
full stack. Called as a WSGI server calls it."""

import io
import json
import uuid

import pytest
from django.core import signals
from django.db import close_old_connections
from django.urls import resolve, reverse

from messaging import webhooks
from messaging.models import PendingReceipt
from smsworks import wsgi
from tests.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def call():
    """Call smsworks.wsgi.application; like Django's test client, without closing the
    test's database connection (and its transaction) at the end of each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)

    def call(method: str, path: str, query: str = "", body: bytes = b"", **environ_extra):
        answer = {}

        def start_response(status, headers, exc_info=None):
            answer["status"] = int(status.split()[0])
            answer["headers"] = {name.lower(): value for name, value in headers}

        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "HTTP_HOST": "testserver",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.url_scheme": "http",
            **environ_extra,
        }
        response = wsgi.application(environ, start_response)
        content = b"".join(response)
        response.close()
        return answer["status"], answer["headers"], content

    yield call
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


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
