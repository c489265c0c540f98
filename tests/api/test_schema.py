"""The OpenAPI schema, the docs page, and schemathesis against the live schema: no
input the schema allows (or nearly allows) may cause a 5xx."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from tests.factories import ContactFactory, ContactListFactory


@pytest.mark.django_db
def test_the_schema_and_docs_are_served_without_a_key(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/messages", "/api/v1/otp/send", "/api/v1/campaigns/{id}/report"} <= set(paths)

    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    # No inline script (a strict CSP may forbid it) and nothing from a CDN.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    for src in re.findall(r'<script[^>]*src="([^"]+)"', html):
        assert client.get(src).status_code == 200, src


@pytest.fixture
def api_schema(live_server, transactional_db, key_owner, settings):
    from api.keys import api_key_create
    from tests.factories import SenderFactory

    settings.MESSAGING_WEBHOOK_BASE_URL = live_server.url
    SenderFactory(value="+447700900600", is_default=True)
    ContactListFactory()
    ContactFactory()
    _, full = api_key_create(
        name="schemathesis",
        scopes=["send", "contacts", "campaigns", "read"],
        created_by=key_owner,
        rate_limit=1_000_000,
    )
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/?format=json")
    schema.config.headers = {"Authorization": f"Bearer {full}"}
    return schema


SETTINGS = settings(
    max_examples=10,
    derandomize=True,
    deadline=None,
    database=None,
    # No shrinking: a failure is reported as found, and the test stays short.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def test_no_input_causes_a_server_error(api_schema):
    headers = dict(api_schema.config.headers or {})
    failures, operations, calls = [], 0, []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @SETTINGS
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call_and_validate(
                headers=headers, checks=[not_a_server_error], timeout=30
            )
            calls.append(response.status_code)
            content_type = response.headers.get("content-type") or [""]
            if isinstance(content_type, list):
                content_type = content_type[0]
            assert content_type.startswith("application/json"), content_type

        try:
            check()
        except Exception as exc:  # collect them all, then fail with the list
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 20
    print(f"schemathesis: {len(calls)} requests, statuses {sorted(set(calls))}")
    assert len(calls) >= operations * 3
    assert not failures, "\n\n".join(failures)
