from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.services import audit_record
from contacts.forms import ManualOptInForm, ManualOptOutForm
from contacts.models import ConsentEvent, Source, Suppression
from contacts.services import contact_opt_in, contact_opt_out
from smsworks.pagination import keyset_page
from smsworks.permissions import can, require

PAGE_SIZE = 50


@require("consent_view")
def optout_list(request):
    q = request.GET.get("q", "").strip()
    source = request.GET.get("source", "")
    suppressions = Suppression.objects.select_related("contact")
    if q:
        suppressions = suppressions.filter(phone__contains=q.replace(" ", ""))
    if source in Source.values:
        suppressions = suppressions.filter(source=source)
    page = keyset_page(request, suppressions, PAGE_SIZE)
    return render(
        request,
        "contacts/optout_list.html",
        {
            "page": page.items,
            "next_query": page.next_query,
            "q": q,
            "source": source,
            "sources": Source.choices,
            "events": ConsentEvent.objects.select_related("user").order_by("-id")[:20],
            "can_manage": can(request.user, "consent_manage"),
            "opt_out_form": ManualOptOutForm(),
            "opt_in_form": ManualOptInForm(),
            "total": Suppression.objects.count(),
        },
    )


@require("consent_manage")
@require_POST
def optout_add(request):
    form = ManualOptOutForm(request.POST)
    if form.is_valid():
        contact_opt_out(
            phone=form.cleaned_data["phone"],
            source=Source.MANUAL,
            user=request.user,
            note=form.cleaned_data["note"],
        )
        audit_record(
            action="consent.opted_out",
            details={"phone": form.cleaned_data["phone"]},
            request=request,
        )
        flash.success(request, f"{form.cleaned_data['phone']} is opted out.")
    else:
        flash.error(
            request, "Not opted out: " + " ".join(e for errs in form.errors.values() for e in errs)
        )
    return redirect("contacts:optouts")


@require("consent_manage")
@require_POST
def optout_remove(request):
    form = ManualOptInForm(request.POST)
    if form.is_valid():
        try:
            contact_opt_in(
                phone=form.cleaned_data["phone"],
                source=Source.MANUAL,
                user=request.user,
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            flash.error(request, " ".join(exc.messages))
        else:
            audit_record(
                action="consent.opted_in",
                details={"phone": form.cleaned_data["phone"]},
                request=request,
            )
            flash.success(request, f"{form.cleaned_data['phone']} is opted in again.")
    else:
        flash.error(
            request, "Not opted in: " + " ".join(e for errs in form.errors.values() for e in errs)
        )
    return redirect("contacts:optouts")
