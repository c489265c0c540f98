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


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/" + "x" * 300,  # too long: refused without parsing
    ],
)
def test_the_parser_is_chosen_as_drf_chooses_it_the_first_time_and_after(content_type):
    from rest_framework.parsers import FormParser, JSONParser

    negotiation._parsers.clear()
    request = Request(APIRequestFactory().post("/api/v1/messages", "{}", content_type=content_type))
    classes = [JSONParser, FormParser]

    def chosen(negotiator):
        parser = negotiator.select_parser(request, [cls() for cls in classes])
        return None if parser is None else type(parser)

    drf = chosen(DefaultContentNegotiation())
    ours = negotiation.RememberingContentNegotiation()
    assert chosen(ours) == drf and chosen(ours) == drf
    if content_type.startswith("application/json"):
        assert drf is JSONParser
    elif content_type.endswith("urlencoded"):
        assert drf is FormParser
    elif content_type == "text/plain" or len(content_type) > 256:
        assert drf is None


def test_a_body_of_another_type_is_refused_with_415_every_time(make_client):
    client = make_client("send")
    for _ in range(2):
        response = client.post("/api/v1/messages", "to=1", content_type="text/plain")
        assert response.status_code == 415
        assert response.json()["error"]["code"] == "unsupported_media_type"
