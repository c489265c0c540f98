"""Integrations index and event webhook pages (Admin)."""

from __future__ import annotations

import json

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods, require_POST

from integrations import services
from integrations.delivery import envelope
from integrations.forms import EndpointForm
from integrations.models import Delivery, DeliveryAttempt, Endpoint, new_signing_secret
from smsworks.permissions import require

RECENT_DELIVERIES = 50
# The session remembers which endpoint's secret to show in full, once.
SHOW_SECRET = "integrations:show-secret"  # noqa: S105 - a session key, not a secret


def _url_or_none(name: str) -> str | None:
    """Links to parts built elsewhere appear once they exist."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


@require("integrations_manage")
def index(request):
    endpoints = Endpoint.objects.live().aggregate(
        total=Count("id"), off=Count("id", filter=Q(is_active=False))
    )
    return render(
        request,
        "integrations/index.html",
        {
            "endpoints": endpoints,
            "apikeys_url": _url_or_none("apikeys:list"),
            "emailsms_url": _url_or_none("emailsms:index"),
        },
    )


@require("integrations_manage")
def endpoint_list(request):
    endpoints = Endpoint.objects.live().order_by("-created_at")
    return render(request, "integrations/endpoint_list.html", {"endpoints": endpoints})


@require("integrations_manage")
@require_http_methods(["GET", "POST"])
def endpoint_create(request):
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        endpoint = services.endpoint_create(
            url=data["url"],
            events=data["events"],
            description=data["description"],
            user=request.user,
        )
        request.session[SHOW_SECRET] = endpoint.pk
        flash.success(request, "Endpoint added. Copy its signing secret now.")
        return redirect("integrations:endpoint_detail", pk=endpoint.pk)
    return render(request, "integrations/endpoint_form.html", {"form": form, "endpoint": None})


@require("integrations_manage")
@require_http_methods(["GET", "POST"])
def endpoint_edit(request, pk: int):
    endpoint = get_object_or_404(Endpoint.objects.live(), pk=pk)
    form = EndpointForm(request.POST or None, endpoint=endpoint)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.endpoint_update(
            endpoint=endpoint,
            url=data["url"],
            events=data["events"],
            description=data["description"],
            is_active=data["is_active"],
        )
        flash.success(request, "Endpoint saved.")
        return redirect("integrations:endpoint_detail", pk=endpoint.pk)
    return render(request, "integrations/endpoint_form.html", {"form": form, "endpoint": endpoint})


@require("integrations_manage")
@require_http_methods(["GET", "POST"])
def endpoint_delete(request, pk: int):
    endpoint = get_object_or_404(Endpoint.objects.live(), pk=pk)
    if request.method == "POST":
        services.endpoint_delete(endpoint=endpoint)
        flash.success(request, f"Endpoint {endpoint.url} deleted.")
        return redirect("integrations:endpoint_list")
    return render(request, "integrations/endpoint_delete.html", {"endpoint": endpoint})


@require("integrations_manage")
def endpoint_detail(request, pk: int):
    endpoint = get_object_or_404(Endpoint.objects.live(), pk=pk)
    show_secret = request.session.pop(SHOW_SECRET, None) == endpoint.pk
    deliveries = (
        endpoint.deliveries.select_related("event")
        .prefetch_related(
            Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number"))
        )
        .order_by("-created_at", "-id")[:RECENT_DELIVERIES]
    )
    return render(
        request,
        "integrations/endpoint_detail.html",
        {
            "endpoint": endpoint,
            "deliveries": deliveries,
            "show_secret": show_secret,
            "secret_hint": endpoint.secret[:6] + "…" + endpoint.secret[-4:],
        },
    )


@require("integrations_manage")
@require_POST
def endpoint_roll_secret(request, pk: int):
    endpoint = get_object_or_404(Endpoint.objects.live(), pk=pk)
    endpoint.secret = new_signing_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    request.session[SHOW_SECRET] = endpoint.pk
    flash.warning(request, "New signing secret: update your receiver. The old one no longer works.")
    return redirect("integrations:endpoint_detail", pk=endpoint.pk)


@require("integrations_manage")
@require_POST
def endpoint_test(request, pk: int):
    endpoint = get_object_or_404(Endpoint.objects.live(), pk=pk)
    try:
        services.endpoint_send_test(endpoint=endpoint)
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    else:
        flash.success(request, "Test event queued: it appears below within seconds.")
    return redirect("integrations:endpoint_detail", pk=endpoint.pk)


@require("integrations_manage")
def delivery_detail(request, pk: int):
    delivery = get_object_or_404(Delivery.objects.select_related("event", "endpoint"), pk=pk)
    body = json.dumps(json.loads(envelope(delivery.event)), indent=2, ensure_ascii=False)
    return render(
        request,
        "integrations/delivery_detail.html",
        {
            "delivery": delivery,
            "endpoint": delivery.endpoint,
            "body": body,
            "attempts": delivery.attempt_log.order_by("number"),
        },
    )


@require("integrations_manage")
@require_POST
def delivery_replay(request, pk: int):
    delivery = get_object_or_404(Delivery, pk=pk)
    try:
        services.delivery_replay(delivery=delivery)
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    else:
        flash.success(request, "Replay queued.")
    return redirect("integrations:endpoint_detail", pk=delivery.endpoint_id)
