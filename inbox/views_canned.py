"""Canned replies: personal ones for every inbox user, shared ones for Admin."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from inbox.canned import canned_delete, canned_save
from inbox.forms import CannedReplyForm
from inbox.models import CannedReply
from smsworks.permissions import can, require


def _editable(request, pk: int) -> CannedReply:
    """A user edits their own replies; shared ones need the rules capability."""
    canned = get_object_or_404(CannedReply, pk=pk)
    if canned.owner_id == request.user.pk:
        return canned
    if canned.owner_id is None and can(request.user, "inbox_rules_manage"):
        return canned
    raise PermissionDenied


@require("inbox_use")
def canned_list(request):
    sections = [
        ("Yours", CannedReply.objects.filter(owner=request.user), True),
        (
            "Shared with the team",
            CannedReply.objects.filter(owner__isnull=True),
            can(request.user, "inbox_rules_manage"),
        ),
    ]
    return render(request, "inbox/canned_list.html", {"sections": sections})


@require("inbox_use")
@require_http_methods(["GET", "POST"])
def canned_edit(request, pk: int | None = None):
    canned = _editable(request, pk) if pk else None
    can_share = can(request.user, "inbox_rules_manage")
    form = CannedReplyForm(
        request.POST or None, initial=CannedReplyForm.initial_for(canned), can_share=can_share
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = canned_save(
            canned=canned,
            owner=None if data.get("shared") else request.user,
            title=data["title"],
            body=data["body"],
        )
        flash.success(request, f"Canned reply “{saved.title}” saved.")
        return redirect("inbox:canned")
    return render(request, "inbox/canned_form.html", {"form": form, "canned": canned})


@require("inbox_use")
@require_POST
def canned_remove(request, pk: int):
    canned = _editable(request, pk)
    canned_delete(canned=canned)
    flash.success(request, f"Canned reply “{canned.title}” deleted.")
    return redirect("inbox:canned")
