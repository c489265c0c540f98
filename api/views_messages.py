"""POST /messages, /messages/batch, /messages/{id}/cancel; GET /messages[/{id}]."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from api import conf, idempotency, services
from api.errors import ApiError
from api.pagination import NewestFirst
from api.serializers import (
    BatchItemSerializer,
    BatchResultSerializer,
    BatchSchema,
    BatchSendSerializer,
    ErrorSerializer,
    MessageFilterSerializer,
    MessageSendSerializer,
    MessageSerializer,
)
from messaging.models import Message, Status
from messaging.services import message_cancel_queued

IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="A repeat with the same key and body returns the first answer and sends nothing.",
)
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}


class MessageListCreate(APIView):
    scope = "send"

    @extend_schema(
        operation_id="messages_send",
        request=MessageSendSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: MessageSerializer, 422: ErrorSerializer, **ERRORS},
    )
    def post(self, request):
        def work() -> Response:
            serializer = MessageSendSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            sender = services.sender_for(data.get("sender"))
            message = services.message_send_one(
                to=data["to"], body=data["body"], sender=sender, send_at=data.get("send_at")
            )
            return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

        return idempotency.run(request, work)

    @extend_schema(
        operation_id="messages_list",
        parameters=[MessageFilterSerializer],
        responses={200: MessageSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        filters = MessageFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        messages = Message.objects.all()
        if "status" in f:
            messages = messages.filter(status=f["status"])
        if "direction" in f:
            messages = messages.filter(direction=f["direction"])
        if "to" in f:
            messages = messages.filter(to_number=f["to"])
        if "since" in f:
            messages = messages.filter(created_at__gte=f["since"])
        if "until" in f:
            messages = messages.filter(created_at__lt=f["until"])
        if "campaign" in f:
            messages = messages.filter(campaign_id=f["campaign"])
        paginator = NewestFirst()
        page = paginator.paginate_queryset(messages, request, view=self)
        return paginator.get_paginated_response(MessageSerializer(page, many=True).data)


class MessageBatch(APIView):
    scope = "send"

    @extend_schema(
        operation_id="messages_send_batch",
        request=BatchSchema,
        parameters=[IDEMPOTENCY],
        responses={201: BatchResultSerializer, 413: ErrorSerializer, **ERRORS},
    )
    def post(self, request):
        def work() -> Response:
            envelope = BatchSendSerializer(data=request.data)
            envelope.is_valid(raise_exception=True)
            raw_items = envelope.validated_data["messages"]
            limit = conf.get("API_BATCH_MAX")
            if len(raw_items) > limit:
                raise ApiError(
                    "batch_too_large",
                    f"A batch holds at most {limit} messages; this one has {len(raw_items)}.",
                    status_code=413,
                    details={"max": limit, "count": len(raw_items)},
                )
            items, errors = [], {}
            for index, raw in enumerate(raw_items):
                item = BatchItemSerializer(data=raw)
                if item.is_valid():
                    items.append(services.BatchItem(**{"send_at": None, **item.validated_data}))
                else:
                    errors[str(index)] = item.errors
            if errors:
                # All or nothing: one bad item and none is queued.
                raise ApiError(
                    "validation_error",
                    f"{len(errors)} of {len(raw_items)} messages are not valid; none was queued.",
                    details={"messages": errors},
                )
            sender = services.sender_for(envelope.validated_data.get("sender"))
            created = services.messages_send_batch(items=items, sender=sender)
            body = {
                "count": len(created),
                "suppressed": sum(m.status == Status.SUPPRESSED for m in created),
                "messages": [
                    {"id": str(m.uuid), "to": m.to_number, "status": m.status} for m in created
                ],
            }
            return Response(body, status=status.HTTP_201_CREATED)

        return idempotency.run(request, work)


class MessageDetail(APIView):
    scope = "send"

    @extend_schema(operation_id="messages_get", responses={200: MessageSerializer, **ERRORS})
    def get(self, request, uuid):
        return Response(MessageSerializer(get_object_or_404(Message, uuid=uuid)).data)


class MessageCancel(APIView):
    scope = "send"

    @extend_schema(
        operation_id="messages_cancel",
        request=None,
        responses={200: MessageSerializer, 409: ErrorSerializer, **ERRORS},
    )
    def post(self, request, uuid):
        message = get_object_or_404(Message, uuid=uuid)
        if not message_cancel_queued(ids=[message.pk]):
            message.refresh_from_db()
            raise ApiError(
                "not_cancellable",
                f"Only a queued message can be cancelled; this one is {message.status}.",
                status_code=409,
                details={"status": message.status},
            )
        message.refresh_from_db()
        return Response(MessageSerializer(message).data)
