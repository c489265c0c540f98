"""Static lists and segments (saved rules) pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from contacts import segments
from contacts.forms_lists import ContactListForm, SegmentForm, editor_schema, rule_formset
from contacts.lists import list_remove_contacts
from contacts.models import ContactList, ListMembership, Segment
from smsworks.permissions import can, require

PAGE_SIZE = 50
SAMPLE_SIZE = 10


def _keyset_page(request: HttpRequest, rows: QuerySet, key: str) -> tuple[list, str, bool]:
    """One page of rows ordered by ``-key``; returns (rows, next query string, first page?)."""
    before = request.GET.get("before", "")
    if before.isdigit():
        rows = rows.filter(**{f"{key}__lt": int(before)})
    page = list(rows.order_by(f"-{key}")[: PAGE_SIZE + 1])
    has_more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    query = request.GET.copy()
    query.pop("before", None)
    if has_more:
        query["before"] = getattr(page[-1], key)
    return page, query.urlencode() if has_more else "", not before.isdigit()


# -- lists ------------------------------------------------------------------------------


@require("contacts_view")
def list_index(request):
    lists = ContactList.objects.annotate(member_count=Count("listmembership")).order_by("name")
    return render(
        request,
        "contacts/list_index.html",
        {"lists": lists, "can_manage": can(request.user, "contacts_manage")},
    )


@require("contacts_manage")
@require_http_methods(["GET", "POST"])
def list_edit(request, pk: int | None = None):
    contact_list = get_object_or_404(ContactList, pk=pk) if pk else None
    form = ContactListForm(request.POST or None, instance=contact_list)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        if contact_list is None:
            saved.created_by = request.user
        try:
            with transaction.atomic():
                saved.save()
        except IntegrityError:  # a concurrent submit won the unique name
            form.add_error("name", "A list with this name already exists.")
        else:
            flash.success(request, f"List {saved.name} saved.")
            return redirect("contacts:list_detail", pk=saved.pk)
    return render(request, "contacts/list_form.html", {"form": form, "contact_list": contact_list})


@require("contacts_view")
def list_detail(request, pk: int):
    contact_list = get_object_or_404(
        ContactList.objects.annotate(member_count=Count("listmembership")), pk=pk
    )
    # From the membership side: the (list, contact) unique index serves the
    # keyset, whether the list holds ten contacts or a million.
    memberships = ListMembership.objects.filter(
        contact_list=contact_list, contact__erased_at__isnull=True
    ).select_related("contact")
    page, next_query, first_page = _keyset_page(request, memberships, "contact_id")
    return render(
        request,
        "contacts/list_detail.html",
        {
            "contact_list": contact_list,
            "page": page,
            "next_query": next_query,
            "first_page": first_page,
            "can_manage": can(request.user, "contacts_manage"),
        },
    )


@require("contacts_manage")
@require_POST
def list_remove_members(request, pk: int):
    contact_list = get_object_or_404(ContactList, pk=pk)
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    if not ids:
        flash.warning(request, "Select the contacts to remove first.")
    else:
        removed = list_remove_contacts(contact_list=contact_list, contact_ids=ids)
        flash.success(
            request,
            f"Removed {removed} contact(s) from {contact_list.name}. They stay in Contacts.",
        )
    return redirect("contacts:list_detail", pk=contact_list.pk)


@require("contacts_manage")
@require_http_methods(["GET", "POST"])
def list_delete(request, pk: int):
    contact_list = get_object_or_404(
        ContactList.objects.annotate(member_count=Count("listmembership")), pk=pk
    )
    if request.method == "POST":
        contact_list.delete()
        flash.success(request, f"List {contact_list.name} deleted. Its contacts were kept.")
        return redirect("contacts:lists")
    return render(request, "contacts/list_confirm_delete.html", {"contact_list": contact_list})


# -- segments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentRow:
    segment: Segment
    count: int | None
    summary: list[str]
    problem: str


def _segment_row(segment: Segment, kinds: dict) -> SegmentRow:
    try:
        parsed = segments.parse_rules(segment.match, segment.rules, kinds=kinds)
        count = segments.segment_count(segment)
    except ValidationError as exc:
        return SegmentRow(segment, None, [], " ".join(exc.messages))
    return SegmentRow(segment, count, [rule.describe() for rule in parsed], "")


@require("contacts_view")
def segment_index(request):
    kinds = segments.rule_kinds()
    rows = [_segment_row(segment, kinds) for segment in Segment.objects.all()]
    return render(
        request,
        "contacts/segment_index.html",
        {"rows": rows, "can_manage": can(request.user, "contacts_manage")},
    )


@require("contacts_view")
def segment_detail(request, pk: int):
    segment = get_object_or_404(Segment, pk=pk)
    context = {"segment": segment, "can_manage": can(request.user, "contacts_manage")}
    try:
        parsed = segments.parse_rules(segment.match, segment.rules)
    except ValidationError as exc:
        context["problems"] = exc.messages
    else:
        contacts = segments.contacts_matching(segment.match, parsed)
        page, next_query, first_page = _keyset_page(request, contacts, "id")
        context.update(
            summary=[rule.describe() for rule in parsed],
            count=segments.segment_count(segment, fresh=True),
            page=page,
            next_query=next_query,
            first_page=first_page,
        )
    return render(request, "contacts/segment_detail.html", context)


@require("contacts_manage")
@require_http_methods(["GET", "POST"])
def segment_edit(request, pk: int | None = None):
    segment = get_object_or_404(Segment, pk=pk) if pk else None
    kinds = segments.rule_kinds()
    form = SegmentForm(request.POST or None, instance=segment)
    rules = rule_formset(
        request.POST or None, kinds=kinds, initial=segment.rules if segment else None
    )
    if request.method == "POST" and form.is_valid() and rules.is_valid():
        saved = form.save(commit=False)
        saved.rules = rules.rules()
        if segment is None:
            saved.created_by = request.user
        try:
            with transaction.atomic():
                saved.save()
        except IntegrityError:  # a concurrent submit won the unique name
            form.add_error("name", "A segment with this name already exists.")
        else:
            flash.success(request, f"Segment {saved.name} saved.")
            return redirect("contacts:segment_detail", pk=saved.pk)
    problems = []
    if segment is not None and request.method == "GET":
        try:
            segments.parse_rules(segment.match, segment.rules, kinds=kinds)
        except ValidationError as exc:
            problems = exc.messages
    return render(
        request,
        "contacts/segment_form.html",
        {
            "form": form,
            "rules": rules,
            "segment": segment,
            "problems": problems,
            "schema": editor_schema(kinds),
        },
    )


@require("contacts_manage")
@require_POST
def segment_preview(request) -> HttpResponse:
    """The live count and a sample while rules are edited (HTMX partial)."""
    kinds = segments.rule_kinds()
    rules = rule_formset(request.POST, kinds=kinds)
    match = request.POST.get("match") or Segment.Match.ALL
    context: dict = {"problems": []}
    if not rules.is_valid():
        context["problems"] = list(rules.non_form_errors()) + [
            f"Rule {number}: {message}"
            for number, rule_form in enumerate(rules.forms, start=1)
            for message in _form_messages(rule_form)
        ]
    else:
        try:
            parsed = segments.parse_rules(match, rules.rules(), kinds=kinds)
        except ValidationError as exc:
            context["problems"] = exc.messages
        else:
            contacts = segments.contacts_matching(match, parsed)
            count = contacts.count()
            # Skip the sample when nothing matches: walking the id index for ten
            # rows that do not exist would read the whole table.
            sample = list(contacts.order_by("-id")[:SAMPLE_SIZE]) if count else []
            context.update(count=count, sample=sample)
    return render(request, "contacts/_segment_preview.html", context)


def _form_messages(form) -> list[str]:
    return [message for errors in form.errors.values() for message in errors]


@require("contacts_manage")
@require_http_methods(["GET", "POST"])
def segment_delete(request, pk: int):
    segment = get_object_or_404(Segment, pk=pk)
    if request.method == "POST":
        segment.delete()
        flash.success(request, f"Segment {segment.name} deleted. No contact was changed.")
        return redirect("contacts:segments")
    return render(request, "contacts/segment_confirm_delete.html", {"segment": segment})
