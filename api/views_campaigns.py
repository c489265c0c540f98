"""Campaigns: create (a draft), schedule, cancel, read and report."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api import services
from api.errors import ApiError
from api.pagination import NewestFirst
from api.serializers import (
    CampaignCreateSerializer,
    CampaignReportSerializer,
    CampaignSerializer,
    ErrorSerializer,
)
from api.views_contacts import _get, _valid
from campaigns import reports
from campaigns import services as campaign_services
from campaigns.compose import Draft, campaign_draft_save
from campaigns.models import Campaign
from contacts.models import ContactList, Segment

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}
NOT_FOUND = {404: ErrorSerializer}
CONFLICT = {409: ErrorSerializer}


def _owner(request):
    """Campaign writes act as the Admin who made the key (approval rules apply to them)."""
    user_id = request.auth.created_by_id
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None:
        raise ApiError(
            "key_owner_inactive",
            "The user who created this API key is gone or inactive: make a new key.",
            status_code=403,
        )
    return user


def _campaigns():
    return Campaign.objects.select_related("sender").prefetch_related("lists", "segments")


def _rows(model, ids: list[int], field: str) -> list:
    rows = list(model.objects.filter(pk__in=ids))
    missing = sorted(set(ids) - {r.pk for r in rows})
    if missing:
        raise ApiError(
            "validation_error",
            f"Unknown {field}: {', '.join(map(str, missing))}.",
            details={field: [f"Unknown id {i}." for i in missing]},
        )
    return rows


class CampaignIndex(APIView):
    scope = "campaigns"

    @extend_schema(
        operation_id="campaigns_list", responses={200: CampaignSerializer(many=True), **ERRORS}
    )
    def get(self, request):
        paginator = NewestFirst()
        page = paginator.paginate_queryset(
            _campaigns().filter(parent__isnull=True), request, view=self
        )
        return paginator.get_paginated_response(CampaignSerializer(page, many=True).data)

    @extend_schema(
        operation_id="campaigns_create",
        request=CampaignCreateSerializer,
        responses={201: CampaignSerializer, **ERRORS},
    )
    def post(self, request):
        data = _valid(CampaignCreateSerializer(data=request.data))
        owner = _owner(request)
        sender = services.sender_for(data.get("sender"))
        draft = Draft(
            name=data["name"],
            sender=sender,
            body=data["body"],
            lists=_rows(ContactList, data.get("lists", []), "lists"),
            segments=_rows(Segment, data.get("segments", []), "segments"),
            opt_out_footer=data.get("opt_out_footer", True),
            schedule=Campaign.Schedule.AT if data.get("scheduled_at") else Campaign.Schedule.NOW,
            scheduled_at=data.get("scheduled_at"),
        )
        campaign = campaign_draft_save(draft=draft, by=owner)
        return Response(CampaignSerializer(_get(_campaigns(), campaign.pk)).data, status=201)


class CampaignDetail(APIView):
    scope = "campaigns"

    @extend_schema(
        operation_id="campaigns_get", responses={200: CampaignSerializer, **NOT_FOUND, **ERRORS}
    )
    def get(self, request, pk: int):
        return Response(CampaignSerializer(_get(_campaigns(), pk)).data)


def _transition(request, pk: int, change) -> Response:
    owner = _owner(request)
    campaign = _get(Campaign.objects.all(), pk)
    try:
        with transaction.atomic():
            change(campaign, owner)
    except DjangoValidationError as exc:
        campaign.refresh_from_db()
        raise ApiError(
            "invalid_state",
            " ".join(exc.messages),
            status_code=409,
            details={"status": campaign.status},
        ) from exc
    return Response(CampaignSerializer(_get(_campaigns(), pk)).data)


class CampaignSchedule(APIView):
    scope = "campaigns"

    @extend_schema(
        operation_id="campaigns_schedule",
        request=None,
        responses={200: CampaignSerializer, **CONFLICT, **NOT_FOUND, **ERRORS},
    )
    def post(self, request, pk: int):
        return _transition(
            request,
            pk,
            lambda campaign, owner: campaign_services.campaign_schedule(
                campaign=campaign, by=owner
            ),
        )


class CampaignCancel(APIView):
    scope = "campaigns"

    @extend_schema(
        operation_id="campaigns_cancel",
        request=None,
        responses={200: CampaignSerializer, **CONFLICT, **NOT_FOUND, **ERRORS},
    )
    def post(self, request, pk: int):
        return _transition(
            request,
            pk,
            lambda campaign, owner: campaign_services.campaign_cancel(campaign=campaign),
        )


class CampaignReport(APIView):
    scope = "campaigns"

    @extend_schema(
        operation_id="campaigns_report",
        responses={200: CampaignReportSerializer, **NOT_FOUND, **ERRORS},
    )
    def get(self, request, pk: int):
        campaign = _get(Campaign.objects.all(), pk)
        snapshot = reports.campaign_snapshot(campaign)
        counts = snapshot.counts
        return Response(
            {
                "id": campaign.pk,
                "status": campaign.status,
                "counts": dict(counts.by_status),
                "total": counts.total,
                "delivered_rate": counts.delivered_rate,
                "cost": counts.cost,
                "clicks_unique": snapshot.engagement.clicks_unique,
                "clicks_total": snapshot.engagement.clicks_total,
                "replied": snapshot.engagement.replied,
                "opted_out": snapshot.engagement.opted_out,
                "failures": [
                    {"status": f.status, "code": f.code, "reason": f.reason, "count": f.count}
                    for f in snapshot.failures
                ],
            }
        )
