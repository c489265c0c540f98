"""DRF authentication by API key (Authorization: Bearer smsw_...) and the scope check."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission

from api import keys


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: Bearer <key>'.")
        principal = keys.authenticate(raw.strip())
        if principal is None:
            raise exceptions.AuthenticationFailed("The API key is unknown or revoked.")
        return keys.ApiUser(principal), principal

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="smsworks"'


class HasScope(BasePermission):
    """A view names its scope (`scope = "send"`); reads are also allowed with "read"."""

    message = "This API key does not have the scope this endpoint needs."

    def has_permission(self, request, view) -> bool:
        principal = request.auth
        if not isinstance(principal, keys.Principal):
            raise exceptions.NotAuthenticated("Send an API key: 'Authorization: Bearer <key>'.")
        scope = getattr(view, "scope", None)
        if scope is None:
            return False
        if request.method in SAFE_METHODS and principal.has("read"):
            return True
        if principal.has(scope):
            return True
        self.message = f"This API key does not have the '{scope}' scope."
        return False
