"""Contacts (create, update, find by number), consent, lists and segments."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, Prefetch
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import ApiError
from api.pagination import NewestFirst
from api.serializers import (
    MAX_ID,
    ConsentResultSerializer,
    ConsentSerializer,
    ContactFindSerializer,
    ContactSerializer,
    ContactWriteSerializer,
    ErrorSerializer,
    ListSerializer,
    MembersAddedSerializer,
    MembersAddSerializer,
    SegmentSerializer,
)
from contacts import lists as list_services
from contacts import services as contact_services
from contacts.models import Contact, ContactList, ListMembership, Segment, Source, Suppression

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}
NOT_FOUND = {404: ErrorSerializer}


def _get(queryset, pk: int):
    """The row, or a 404 (also for ids no database column can hold)."""
    row = queryset.filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if row is None:
        raise ApiError("not_found", "Not found.", status_code=404)
    return row


def _valid(serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _contacts():
    memberships = ListMembership.objects.only("id", "contact_id", "contact_list_id")
    return Contact.objects.filter(erased_at__isnull=True).prefetch_related(
        Prefetch("listmembership_set", queryset=memberships)
    )


class ContactListCreate(APIView):
    scope = "contacts"

    @extend_schema(
        operation_id="contacts_find",
        parameters=[ContactFindSerializer],
        responses={200: ContactSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        query = ContactFindSerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        contacts = _contacts()
        if "phone" in query.validated_data:
            contacts = contacts.filter(phone=query.validated_data["phone"])
        paginator = NewestFirst()
        page = paginator.paginate_queryset(contacts, request, view=self)
        return paginator.get_paginated_response(ContactSerializer(page, many=True).data)

    @extend_schema(
        operation_id="contacts_create",
        request=ContactWriteSerializer,
        responses={201: ContactSerializer, 409: ErrorSerializer, **ERRORS},
    )
    def post(self, request):
        data = _valid(ContactWriteSerializer(data=request.data))
        with transaction.atomic():
            existing = list(
                Contact.objects.filter(phone=data["phone"]).values_list("id", flat=True)
            )
            if existing:
                raise ApiError(
                    "contact_exists",
                    "A contact with this number exists: update it instead.",
                    status_code=409,
                    details={"id": existing[0]},
                )
            contact = contact_services.contact_save(
                contact=None,
                phone=data["phone"],
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                email=data.get("email", ""),
                time_zone=data.get("time_zone", ""),
                custom=data.get("custom", {}),
                source=Source.API,
            )
        return Response(ContactSerializer(_get(_contacts(), contact.pk)).data, status=201)


class ContactDetail(APIView):
    scope = "contacts"

    @extend_schema(
        operation_id="contacts_get", responses={200: ContactSerializer, **NOT_FOUND, **ERRORS}
    )
    def get(self, request, pk: int):
        return Response(ContactSerializer(_get(_contacts(), pk)).data)

    @extend_schema(
        operation_id="contacts_update",
        request=ContactWriteSerializer(partial=True),
        responses={200: ContactSerializer, 409: ErrorSerializer, **NOT_FOUND, **ERRORS},
    )
    def patch(self, request, pk: int):
        data = _valid(ContactWriteSerializer(data=request.data, partial=True))
        with transaction.atomic():
            contact = _get(Contact.objects.select_for_update().filter(erased_at__isnull=True), pk)
            phone = data.get("phone", contact.phone)
            if phone != contact.phone and Contact.objects.filter(phone=phone).exists():
                raise ApiError(
                    "contact_exists", "Another contact has this number.", status_code=409
                )
            contact_services.contact_save(
                contact=contact,
                phone=phone,
                first_name=data.get("first_name", contact.first_name),
                last_name=data.get("last_name", contact.last_name),
                email=data.get("email", contact.email),
                time_zone=data.get("time_zone", contact.time_zone),
                custom={**contact.custom, **data.get("custom", {})},
            )
        return Response(ContactSerializer(_get(_contacts(), pk)).data)


def _consent(request, *, opt_out: bool) -> Response:
    data = _valid(ConsentSerializer(data=request.data))
    change = contact_services.contact_opt_out if opt_out else contact_services.contact_opt_in
    try:
        event = change(phone=data["phone"], source=Source.API, note=data.get("note", ""))
    except DjangoValidationError as exc:
        raise ApiError("validation_error", exc.messages[0]) from exc
    return Response(
        {
            "phone": data["phone"],
            "opted_out": Suppression.objects.filter(phone=data["phone"]).exists(),
            "contact_id": event.contact_id,
        }
    )


class ContactOptOut(APIView):
    scope = "contacts"

    @extend_schema(
        operation_id="contacts_opt_out",
        request=ConsentSerializer,
        responses={200: ConsentResultSerializer, **ERRORS},
    )
    def post(self, request):
        return _consent(request, opt_out=True)


class ContactOptIn(APIView):
    scope = "contacts"

    @extend_schema(
        operation_id="contacts_opt_in",
        request=ConsentSerializer,
        responses={200: ConsentResultSerializer, **ERRORS},
    )
    def post(self, request):
        return _consent(request, opt_out=False)


def _lists():
    return ContactList.objects.annotate(members=Count("listmembership")).order_by("name")


class ListIndex(APIView):
    scope = "contacts"

    @extend_schema(
        operation_id="lists_list",
        responses={
            200: inline_serializer("ListPage", {"results": ListSerializer(many=True)}),
            **ERRORS,
        },
    )
    def get(self, request):
        return Response({"results": ListSerializer(_lists()[:1000], many=True).data})


class ListDetail(APIView):
    scope = "contacts"

    @extend_schema(operation_id="lists_get", responses={200: ListSerializer, **NOT_FOUND, **ERRORS})
    def get(self, request, pk: int):
        return Response(ListSerializer(_get(_lists(), pk)).data)


class ListMembers(APIView):
    scope = "contacts"

    @extend_schema(
        operation_id="lists_members_add",
        request=MembersAddSerializer,
        responses={200: MembersAddedSerializer, **NOT_FOUND, **ERRORS},
    )
    def post(self, request, pk: int):
        data = _valid(MembersAddSerializer(data=request.data))
        contact_list = _get(ContactList.objects.all(), pk)
        with transaction.atomic():
            ids = set(data.get("contact_ids", []))
            for phone in sorted(set(data.get("phones", []))):
                contact, _ = contact_services.contact_get_or_create_for_number(
                    phone=phone, source=Source.API
                )
                ids.add(contact.pk)
            added = list_services.list_add_contacts(contact_list=contact_list, contact_ids=ids)
        members = ListMembership.objects.filter(contact_list=contact_list).count()
        return Response({"added": added, "members": members})


class SegmentIndex(APIView):
    scope = "contacts"

    @extend_schema(
        operation_id="segments_list",
        responses={
            200: inline_serializer("SegmentPage", {"results": SegmentSerializer(many=True)}),
            **ERRORS,
        },
    )
    def get(self, request):
        segments = list(Segment.objects.order_by("name")[:1000])
        for segment in segments:
            segment.count = _count(segment)
        return Response({"results": SegmentSerializer(segments, many=True).data})


class SegmentDetail(APIView):
    scope = "contacts"

    @extend_schema(
        operation_id="segments_get", responses={200: SegmentSerializer, **NOT_FOUND, **ERRORS}
    )
    def get(self, request, pk: int):
        segment = _get(Segment.objects.all(), pk)
        segment.count = _count(segment)
        return Response(SegmentSerializer(segment).data)


def _count(segment: Segment) -> int | None:
    from contacts.segments import segment_count

    try:
        return segment_count(segment)
    except DjangoValidationError:
        return None  # rules that no longer parse (a custom field was removed)
