"""POST /otp/send and /otp/verify."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api import services
from api.serializers import (
    ErrorSerializer,
    OtpSendSerializer,
    OtpSentSerializer,
    OtpVerifiedSerializer,
    OtpVerifySerializer,
)
from api.views_contacts import _valid

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}


class OtpSend(APIView):
    scope = "send"

    @extend_schema(
        operation_id="otp_send",
        request=OtpSendSerializer,
        responses={201: OtpSentSerializer, 422: ErrorSerializer, **ERRORS},
    )
    def post(self, request):
        data = _valid(OtpSendSerializer(data=request.data))
        sender = services.sender_for(data.get("sender"))
        challenge, message = services.otp_send(
            phone=data["phone"],
            template=data.get("template"),
            sender=sender,
            api_key_id=request.auth.id,
        )
        return Response(
            {
                "phone": challenge.phone,
                "expires_at": challenge.expires_at,
                "message_id": message.uuid,
            },
            status=201,
        )


class OtpVerify(APIView):
    scope = "send"

    @extend_schema(
        operation_id="otp_verify",
        request=OtpVerifySerializer,
        responses={200: OtpVerifiedSerializer, **ERRORS},
    )
    def post(self, request):
        data = _valid(OtpVerifySerializer(data=request.data))
        challenge = services.otp_verify(phone=data["phone"], code=data["code"])
        return Response({"verified": True, "phone": challenge.phone})
