from django.contrib import messages as flash
from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from audit.services import audit_record
from contacts import services
from contacts.forms import BulkActionForm, ContactFilterForm, ContactForm
from contacts.models import Contact, ContactList, ListMembership
from contacts.search import search
from smsworks.pagination import keyset_page
from smsworks.permissions import can, require

PAGE_SIZE = 50


def _filtered(request) -> tuple[ContactFilterForm, object]:
    form = ContactFilterForm(request.GET or None)
    contacts = Contact.objects.all()
    if form.is_valid():
        data = form.cleaned_data
        contacts = search(contacts, data["q"])
        if data["contact_list"]:
            contacts = contacts.filter(
                Exists(
                    ListMembership.objects.filter(
                        contact_list=data["contact_list"], contact=OuterRef("pk")
                    )
                )
            )
        if data["consent"]:
            contacts = contacts.filter(opted_out=data["consent"] == "opted_out")
        if data["country"]:
            contacts = contacts.filter(country=data["country"].upper())
    return form, contacts


@require("contacts_view")
def contact_list(request):
    form, contacts = _filtered(request)
    page = keyset_page(request, contacts, PAGE_SIZE)
    return render(
        request,
        "contacts/contact_list.html",
        {
            "form": form,
            "page": page.items,
            "next_query": page.next_query,
            "lists": ContactList.objects.all(),
            "can_manage": can(request.user, "contacts_manage"),
            "first_page": page.first,
        },
    )


@require("contacts_manage")
@require_POST
def contact_bulk(request):
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            flash.error(request, " ".join(errors))
        return redirect(request.POST.get("next") or "contacts:list")
    ids, action = form.cleaned_data["ids"], form.cleaned_data["action"]
    if action == "add_to_list":
        from contacts.lists import list_add_contacts

        target = form.cleaned_data["contact_list"]
        added = list_add_contacts(contact_list=target, contact_ids=ids)
        flash.success(request, f"Added {added} contact(s) to {target}.")
    elif action == "opt_out":
        count = services.contacts_opt_out(ids=ids, user=request.user, note="Bulk action")
        audit_record(
            action="consent.bulk_opted_out",
            details={"contacts": len(ids), "opted_out": count},
            request=request,
        )
        flash.success(request, f"Opted out {count} contact(s).")
    else:
        count = services.contacts_erase(ids=ids)
        flash.success(request, f"Deleted {count} contact(s). Opted-out numbers stay suppressed.")
    return redirect(request.POST.get("next") or "contacts:list")


@require("contacts_view")
def contact_detail(request, pk: int):
    from messaging.models import Message  # read-only: the timeline shows the messages

    contact = get_object_or_404(Contact, pk=pk)
    events = [
        {"when": m.created_at, "kind": "message", "message": m}
        for m in Message.objects.filter(contact=contact).order_by("-id")[:100]
    ]
    events += [
        {"when": e.created_at, "kind": "consent", "event": e}
        for e in contact.consent_events.select_related("user").order_by("-id")[:100]
    ]
    events.sort(key=lambda e: e["when"], reverse=True)
    return render(
        request,
        "contacts/contact_detail.html",
        {
            "contact": contact,
            "timeline": events[:100],
            "lists": contact.lists.all(),
            "custom": _custom_rows(contact),
            "can_manage": can(request.user, "contacts_manage"),
        },
    )


def _custom_rows(contact: Contact) -> list[tuple[str, object]]:
    from contacts.models import CustomField

    return [
        (f.label, contact.custom.get(f.key))
        for f in CustomField.objects.all()
        if f.key in contact.custom
    ]


@require("contacts_manage")
@require_http_methods(["GET", "POST"])
def contact_edit(request, pk: int | None = None):
    contact = get_object_or_404(Contact, pk=pk) if pk else None
    initial = {}
    if contact:
        initial = {
            "phone": contact.phone,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "time_zone": contact.time_zone,
        }
    form = ContactForm(request.POST or None, contact=contact, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        contact = services.contact_save(
            contact=contact,
            phone=data["phone"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data["email"],
            time_zone=data["time_zone"],
            custom=data["custom"],
        )
        flash.success(request, f"Contact {contact} saved.")
        return redirect("contacts:detail", pk=contact.pk)
    return render(request, "contacts/contact_form.html", {"form": form, "contact": contact})


@require("contacts_manage")
@require_http_methods(["GET", "POST"])
def contact_delete(request, pk: int):
    contact = get_object_or_404(Contact, pk=pk)
    if request.method == "POST":
        services.contact_erase(contact=contact)
        flash.success(request, "Contact deleted. If the number opted out, it stays suppressed.")
        return redirect("contacts:list")
    return render(request, "contacts/contact_confirm_delete.html", {"contact": contact})
