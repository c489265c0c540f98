"""api.negotiation: DRF's content negotiation, remembered per Accept header."""

from __future__ import annotations

import pytest
from django.http import Http404
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api import negotiation

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "application/json; indent=4",
    "application/*",
    "text/html",
    "text/html, application/json;q=0.9",
    "application/xml",
]


def _select(negotiator, accept, renderer_classes, query=""):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/v1/messages{query}", **headers))
    renderers = [cls() for cls in renderer_classes]
    try:
        renderer, media_type = negotiator.select_renderer(request, renderers)
    except exceptions.NotAcceptable:
        return "406"
    except Http404:  # ?format= that no renderer has
        return "404"
    return type(renderer), media_type, renderers.index(renderer)


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("renderer_classes", [[JSONRenderer], [JSONRenderer, BrowsableAPIRenderer]])
@pytest.mark.parametrize("query", ["", "?format=api", "?format=json"])
def test_it_answers_as_drf_does_the_first_time_and_after(accept, renderer_classes, query):
    negotiation._answers.clear()
    drf = _select(DefaultContentNegotiation(), accept, renderer_classes, query)
    ours = negotiation.RememberingContentNegotiation()

    assert _select(ours, accept, renderer_classes, query) == drf
    assert _select(ours, accept, renderer_classes, query) == drf  # remembered, or refused again


def test_it_remembers_a_bounded_number_of_answers(monkeypatch):
    negotiation._answers.clear()
    monkeypatch.setattr(negotiation, "MAX_REMEMBERED", 3)
    ours = negotiation.RememberingContentNegotiation()
    for i in range(10):
        _select(ours, f"application/json; v={i}", [JSONRenderer])
        assert len(negotiation._answers) <= 3


def test_an_unacceptable_request_gets_406_in_the_error_format_every_time(make_client):
    client = make_client("read")
    for _ in range(2):
        response = client.get("/api/v1/messages", HTTP_ACCEPT="text/html")
        assert response.status_code == 406
        assert response.json()["error"]["code"] == "not_acceptable"
    assert client.get("/api/v1/messages", HTTP_ACCEPT="application/json").status_code == 200
