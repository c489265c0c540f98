"""Pages for Admins: API keys (list, create and show once, revoke)."""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from api import keys
from api.forms import ApiKeyForm
from api.models import ApiKey, Scope
from audit.services import audit_record
from smsworks.permissions import require


@require("integrations_manage")
def key_list(request: HttpRequest) -> HttpResponse:
    rows = ApiKey.objects.select_related("created_by", "revoked_by").order_by(
        "revoked_at", "-created_at", "-id"
    )
    return render(
        request,
        "api/key_list.html",
        {"keys": list(rows[:500]), "scope_labels": dict(Scope.choices)},
    )


@require("integrations_manage")
@require_http_methods(["GET", "POST"])
def key_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        key, full = keys.api_key_create(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            rate_limit=form.cleaned_data["rate_limit"],
            created_by=request.user,
        )
        audit_record(
            action="api_key.created",
            target=key,
            details={"scopes": key.scopes, "rate_limit": key.rate_limit},
            request=request,
        )
        # Shown in this response only: it is not stored and never shown again.
        response = render(request, "api/key_created.html", {"key": key, "full_key": full})
        response["Cache-Control"] = "no-store"
        return response
    return render(request, "api/key_form.html", {"form": form})


@require("integrations_manage")
@require_http_methods(["GET", "POST"])
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=pk)
    if request.method == "POST":
        if keys.api_key_revoke(key=key, by=request.user):
            audit_record(action="api_key.revoked", target=key, request=request)
            flash.success(request, f"The key “{key.name}” was revoked: it no longer works.")
        else:
            flash.info(request, f"The key “{key.name}” was already revoked.")
        return redirect("apikeys:list")
    return render(request, "api/key_revoke.html", {"key": key})
