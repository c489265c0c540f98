from __future__ import annotations

from datetime import datetime, time

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from audit.forms import AuditFilterForm
from audit.models import AuditEntry
from smsworks.pagination import keyset_page
from smsworks.permissions import require

PAGE_SIZE = 50


@require("audit_view")
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    entries = AuditEntry.objects.select_related("actor")
    filtered = False
    if form.is_valid():
        data = form.cleaned_data
        if data["system"]:
            entries = entries.filter(actor__isnull=True)
        elif data["actor"]:
            entries = entries.filter(actor=data["actor"])
        if data["action"].strip():
            entries = entries.filter(action__startswith=data["action"].strip())
        if data["target_type"]:
            entries = entries.filter(target_type=data["target_type"])
        tz = timezone.get_current_timezone()
        if data["date_from"]:
            entries = entries.filter(
                created__gte=datetime.combine(data["date_from"], time.min, tzinfo=tz)
            )
        if data["date_to"]:
            entries = entries.filter(
                created__lte=datetime.combine(data["date_to"], time.max, tzinfo=tz)
            )
        filtered = any(v not in (None, "", False) for v in data.values())
    page = keyset_page(request, entries, PAGE_SIZE)
    newest = request.GET.copy()
    newest.pop("before", None)
    return render(
        request,
        "audit/audit_log.html",
        {
            "form": form,
            "page": page.items,
            "next_query": page.next_query,
            "first": page.first,
            "newest_query": newest.urlencode(),
            "filtered": filtered,
        },
    )
