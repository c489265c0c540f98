from datetime import datetime, time

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from audit.services import audit_record
from contacts import phone as phones
from messaging import encoding
from messaging.forms import MessageFilterForm, ProviderAccountForm, SenderForm, TestSendForm
from messaging.models import Message, ProviderAccount, Sender
from messaging.services import SendRefused, message_send, webhook_url
from smsworks.pagination import keyset_page
from smsworks.permissions import require

PAGE_SIZE = 50


@require("providers_manage")
def provider_list(request):
    accounts = ProviderAccount.objects.annotate(sender_count=Count("senders")).order_by("name")
    return render(request, "messaging/provider_list.html", {"accounts": accounts})


@require("providers_manage")
@require_http_methods(["GET", "POST"])
def provider_edit(request, pk: int | None = None):
    account = get_object_or_404(ProviderAccount, pk=pk) if pk else None
    form = ProviderAccountForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        account = form.save()
        action = "provider_account.created" if pk is None else "provider_account.edited"
        audit_record(
            action=action, target=account, details={"changed": form.changed_data}, request=request
        )
        flash.success(request, f"Provider account {account.name} saved.")
        return redirect("messaging:provider_detail", pk=account.pk)
    return render(request, "messaging/provider_form.html", {"form": form, "account": account})


@require("providers_manage")
def provider_detail(request, pk: int):
    account = get_object_or_404(ProviderAccount, pk=pk)
    masked = {
        name: (("••••" + value[-4:]) if len(value) > 8 else "••••")
        if _is_secret(account, name)
        else value
        for name, value in account.credentials.items()
    }
    return render(
        request,
        "messaging/provider_detail.html",
        {
            "account": account,
            "credentials": masked,
            "senders": account.senders.order_by("value"),
            "receipts_url": webhook_url(account, "receipts"),
            "inbound_url": webhook_url(account, "inbound"),
        },
    )


def _is_secret(account: ProviderAccount, name: str) -> bool:
    from messaging.providers import backend_class

    return name in backend_class(account.backend).secret_credentials


@require("providers_manage")
def sender_list(request):
    senders = Sender.objects.select_related("account").order_by("-is_default", "value")
    return render(request, "messaging/sender_list.html", {"senders": senders})


@require("providers_manage")
@require_http_methods(["GET", "POST"])
def sender_edit(request, pk: int | None = None):
    sender = get_object_or_404(Sender, pk=pk) if pk else None
    form = SenderForm(request.POST or None, instance=sender)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["is_default"]:
            Sender.objects.exclude(pk=sender.pk if sender else None).update(is_default=False)
        sender = form.save()
        action = "sender.created" if pk is None else "sender.edited"
        audit_record(
            action=action, target=sender, details={"changed": form.changed_data}, request=request
        )
        flash.success(request, f"Sender {sender} saved.")
        return redirect("messaging:senders")
    return render(request, "messaging/sender_form.html", {"form": form, "sender": sender})


@require("providers_manage")
@require_http_methods(["GET", "POST"])
def sender_test(request, pk: int):
    sender = get_object_or_404(Sender.objects.select_related("account"), pk=pk)
    form = TestSendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = message_send(
                to=form.cleaned_data["to"], body=form.cleaned_data["body"], sender=sender
            )
        except SendRefused as exc:
            form.add_error(None, str(exc))
        else:
            if outcome.suppressed:
                flash.warning(request, "Not sent: that number opted out.")
            else:
                flash.success(request, "Test message queued.")
            return redirect("messaging:detail", uuid=outcome.message.uuid)
    return render(request, "messaging/sender_test.html", {"form": form, "sender": sender})


@require("messages_view")
def message_log(request):
    form = MessageFilterForm(request.GET or None)
    messages = Message.objects.select_related("sender")
    if form.is_valid():
        data = form.cleaned_data
        if data["status"]:
            messages = messages.filter(status=data["status"])
        if data["direction"]:
            messages = messages.filter(direction=data["direction"])
        if data["sender"]:
            messages = messages.filter(sender=data["sender"])
        if data["number"]:
            try:
                number = phones.normalize(data["number"])
            except phones.InvalidNumber:
                number = data["number"].strip()
            messages = messages.filter(Q(to_number=number) | Q(from_number=number))
        tz = timezone.get_current_timezone()
        if data["date_from"]:
            messages = messages.filter(
                created_at__gte=datetime.combine(data["date_from"], time.min, tzinfo=tz)
            )
        if data["date_to"]:
            messages = messages.filter(
                created_at__lte=datetime.combine(data["date_to"], time.max, tzinfo=tz)
            )
    page = keyset_page(request, messages, PAGE_SIZE)
    return render(
        request,
        "messaging/message_log.html",
        {"form": form, "page": page.items, "next_query": page.next_query},
    )


@require("messages_view")
def message_detail(request, uuid):
    message = get_object_or_404(
        Message.objects.select_related("sender", "account", "contact"), uuid=uuid
    )
    return render(request, "messaging/message_detail.html", {"message": message})


@login_required
@require_POST
def counter(request):
    """The live segment counter (HTMX): the same function the engine uses."""
    body = request.POST.get("body", "")
    analysis = encoding.analyze(body)
    smart = encoding.smart_encode(body) if analysis.encoding == "UCS-2" else None
    fixable = smart is not None and encoding.is_gsm(smart.text)
    return render(
        request,
        "messaging/_counter.html",
        {
            "analysis": analysis,
            "smart": smart,
            "fixable": fixable,
            "target": request.POST.get("target", ""),
        },
    )
