"""Email-to-SMS pages: how it works, the allowed senders and the latest mails."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages as flash
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from emailsms import services
from emailsms.forms import AllowedSenderForm
from emailsms.models import AllowedSender, EmailText
from smsworks.permissions import require

RECENT = 50


@require("integrations_manage")
def index(request):
    recent = EmailText.objects.select_related("sms", "allowed_sender").order_by(
        "-created_at", "-id"
    )[:RECENT]
    context = {
        "domain": services.domain(),
        "smtp_host": settings.EMAIL_TO_SMS_SMTP_HOST,
        "smtp_port": settings.EMAIL_TO_SMS_SMTP_PORT,
        "max_segments": settings.EMAIL_TO_SMS_MAX_SEGMENTS,
        "reply_days": settings.EMAIL_TO_SMS_REPLY_DAYS,
        "mailgun_url": settings.SITE_URL.rstrip("/") + reverse("emailsms:mailgun"),
        "mailgun_configured": bool(settings.MAILGUN_WEBHOOK_SIGNING_KEY),
        "allowed": AllowedSender.objects.select_related("sender"),
        "recent": recent,
    }
    return render(request, "emailsms/index.html", context)


@require("integrations_manage")
@require_http_methods(["GET", "POST"])
def allowed_edit(request, pk: int | None = None):
    allowed = get_object_or_404(AllowedSender, pk=pk) if pk else None
    form = AllowedSenderForm(
        request.POST or None, initial=AllowedSenderForm.initial_for(allowed), allowed=allowed
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = services.allowed_sender_save(
            allowed=allowed,
            address=data["address"],
            sender=data["sender"],
            note=data["note"],
            is_active=data["is_active"],
        )
        flash.success(request, f"{saved.address} may send texts from {saved.sender}.")
        return redirect("emailsms:index")
    return render(
        request,
        "emailsms/allowed_form.html",
        {"form": form, "allowed": allowed, "domain": services.domain()},
    )


@require("integrations_manage")
@require_POST
def allowed_delete(request, pk: int):
    allowed = get_object_or_404(AllowedSender, pk=pk)
    services.allowed_sender_delete(allowed=allowed)
    flash.success(request, f"{allowed.address} may no longer send texts by email.")
    return redirect("emailsms:index")
