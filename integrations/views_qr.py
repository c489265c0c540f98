"""QR codes that pre-fill a text to a platform number (Admin)."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render

from integrations import qr
from integrations.forms import KEYWORD, QRForm
from messaging.models import Sender
from smsworks.permissions import require

DEFAULT_KEYWORD = "JOIN"


def _sender_and_keyword(request, pk: int) -> tuple[Sender, str | None]:
    sender = get_object_or_404(
        Sender.objects.filter(is_active=True).exclude(kind=Sender.Kind.ALPHANUMERIC), pk=pk
    )
    keyword = request.GET.get("keyword", DEFAULT_KEYWORD).strip()
    return sender, keyword if KEYWORD.match(keyword) else None


@require("integrations_manage")
def qr_index(request):
    form = QRForm(request.GET or None)
    chosen = form.cleaned_data if form.is_valid() else None
    return render(
        request,
        "integrations/qr_index.html",
        {"form": form, "chosen": chosen, "has_senders": form.fields["sender"].queryset.exists()},
    )


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _filename(sender: Sender, keyword: str, ext: str) -> str:
    safe = "".join(c if c.isalnum() else "-" for c in f"{sender.value}-{keyword}")
    return f"qr-{safe.strip('-')}.{ext}"


@require("integrations_manage")
def qr_png(request, pk: int):
    sender, keyword = _sender_and_keyword(request, pk)
    if keyword is None:
        return HttpResponseBadRequest("Not a keyword.", content_type="text/plain")
    content = qr.png(sender.value, keyword)
    if request.GET.get("inline"):
        return HttpResponse(content, content_type="image/png")
    return _download(content, "image/png", _filename(sender, keyword, "png"))


@require("integrations_manage")
def qr_svg(request, pk: int):
    sender, keyword = _sender_and_keyword(request, pk)
    if keyword is None:
        return HttpResponseBadRequest("Not a keyword.", content_type="text/plain")
    content = qr.svg(sender.value, keyword)
    if request.GET.get("inline"):
        return HttpResponse(content, content_type="image/svg+xml")
    return _download(content, "image/svg+xml", _filename(sender, keyword, "svg"))


@require("integrations_manage")
def qr_poster(request, pk: int):
    sender, keyword = _sender_and_keyword(request, pk)
    if keyword is None:
        return HttpResponseBadRequest("Not a keyword.", content_type="text/plain")
    return render(
        request,
        "integrations/qr_poster.html",
        {"sender": sender, "keyword": keyword, "headline": request.GET.get("headline", "")[:80]},
    )
