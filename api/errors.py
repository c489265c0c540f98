"""One error format for the whole API:

{"error": {"code": "validation_error", "message": "...", "details": {...}}}
"""

from __future__ import annotations

import logging
import math

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

log = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with our own code, status and details."""

    def __init__(
        self, code: str, message: str, *, status_code: int = 400, details=None, headers=None
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


_CODES = {
    exceptions.ParseError: "malformed_json",
    exceptions.AuthenticationFailed: "unauthenticated",
    exceptions.NotAuthenticated: "unauthenticated",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "validation_error",
}


def _message(detail) -> str:
    if isinstance(detail, list | tuple) and detail:
        return str(detail[0])
    if isinstance(detail, dict):
        return "The request is not valid: see details."
    return str(detail)


def exception_handler(exc, context):
    headers: dict[str, str] = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError({"non_field_errors": exc.messages})
    elif isinstance(exc, RequestDataTooBig):
        exc = ApiError("payload_too_large", "The request body is too large.", status_code=413)

    if isinstance(exc, ApiError):
        set_rollback()
        return Response(
            body(exc.error_code, exc.message, exc.details),
            status=exc.status_code,
            headers=exc.headers,
        )
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(math.ceil(exc.wait))
        code = next((c for kind, c in _CODES.items() if isinstance(exc, kind)), "error")
        details = exc.detail if isinstance(exc, exceptions.ValidationError) else None
        message = _message(exc.detail)
        if isinstance(exc, exceptions.ParseError):
            message = "The body is not valid JSON."
            details = {"parser": str(exc.detail)}
        elif isinstance(exc, exceptions.Throttled):
            message = "Too many requests for this API key: slow down."
            details = {"retry_after": math.ceil(exc.wait or 1)}
        return Response(body(code, message, details), status=exc.status_code, headers=headers)
    set_rollback()
    log.exception("API error", exc_info=exc)
    return Response(
        body("server_error", "Something went wrong on our side.", None),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


@csrf_exempt
def not_found(request, *args, **kwargs) -> JsonResponse:
    """Unknown URLs under /api/v1/: the API's format, not the HTML 404 page."""
    return JsonResponse(body("not_found", "No such endpoint.", None), status=404)
