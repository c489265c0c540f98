from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ops import checks, metrics
from smsworks.permissions import require

REFRESH_SECONDS = 10


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Public, for load balancers and monitors: 200 when every check passes, else 503.

    Says what is wrong but never how the install is configured (no URLs, no hosts).
    """
    try:
        results = checks.run(checks.parse_only(request.GET.get("only")))
    except checks.UnknownCheck as exc:
        return JsonResponse({"status": "error", "error": str(exc)}, status=400)
    healthy = all(r.ok for r in results.values())
    return JsonResponse(
        {
            "status": "ok" if healthy else "fail",
            "checks": {name: result.as_dict() for name, result in results.items()},
        },
        status=200 if healthy else 503,
    )


@require("audit_view")
@require_GET
def system(request: HttpRequest) -> HttpResponse:
    beat, queues, workers = metrics.heartbeat_rows()
    context = {
        "checks": checks.run(),
        "depths": metrics.queue_depths(),
        "outbox": metrics.outbox(),
        "rate": metrics.send_rate(),
        "receipts": metrics.receipt_lag(),
        "beat": beat,
        "queues": queues,
        "workers": workers,
        "refresh": REFRESH_SECONDS,
    }
    template = "ops/_system_panels.html" if request.htmx else "ops/system.html"
    return render(request, template, context)
