"""DRF's content negotiation, remembered per Accept header and format, and per
Content-Type for the parser.

Every API request negotiates its renderer (and a POST its parser); DRF parses the
Accept header (the Content-Type) and matches it against each renderer (parser)
every time, which cost a fortieth of an API send's CPU. The answer depends only on
the header, the ?format= or suffix and the renderers' (parsers') classes, so it is
kept (a refusal is not: it raises, as DRF's does, or is None again)."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

# Accept headers come from clients: a bounded number of answers is kept.
MAX_REMEMBERED = 256
_answers: dict[tuple, tuple[int, str]] = {}
_parsers: dict[tuple, int] = {}


class RememberingContentNegotiation(DefaultContentNegotiation):
    def select_parser(self, request, parsers):
        key = (request.content_type, tuple(type(parser) for parser in parsers))
        index = _parsers.get(key)
        if index is None:
            parser = super().select_parser(request, parsers)
            if parser is None:
                return None
            if len(_parsers) >= MAX_REMEMBERED:
                _parsers.clear()
            index = _parsers[key] = parsers.index(parser)
        return parsers[index]

    def select_renderer(self, request, renderers, format_suffix=None):
        format_ = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        key = (
            request.META.get("HTTP_ACCEPT"),
            format_,
            tuple(type(renderer) for renderer in renderers),
        )
        answer = _answers.get(key)
        if answer is None:
            renderer, media_type = super().select_renderer(request, renderers, format_suffix)
            if len(_answers) >= MAX_REMEMBERED:
                _answers.clear()
            answer = _answers[key] = (renderers.index(renderer), media_type)
        index, media_type = answer
        return renderers[index], media_type
