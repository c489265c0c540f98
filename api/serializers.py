"""Request and response shapes. Requests use strict serializers (unknown fields and
wrong types refused); responses are plain model serializers."""

from __future__ import annotations

import functools
import re
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models.query_utils import DeferredAttribute
from rest_framework import serializers

from api import conf
from api.fields import (
    PhoneField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
)
from campaigns.models import Campaign
from contacts.models import Contact, ContactList, CustomField, Segment
from messaging.models import Message, Status

_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")
BODY_MAX = 1600  # ten concatenated segments of GSM-7
MAX_ID = 2**63 - 1


def _id_field(**kwargs) -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=MAX_ID, **kwargs)


# --- messages ---------------------------------------------------------------------------
class MessageSendSerializer(StrictSerializer):
    fields_built_once = True
    to = PhoneField(help_text="The recipient, E.164 or national format.")
    body = StrictCharField(max_length=BODY_MAX, trim_whitespace=False)
    sender = StrictCharField(
        required=False,
        max_length=20,
        help_text="A sender number or ID; default sender if left out.",
    )
    send_at = serializers.DateTimeField(
        required=False, help_text="Schedule for later (ISO 8601 with a time zone)."
    )

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("The message is empty.")
        return value


class BatchItemSerializer(StrictSerializer):
    fields_built_once = True
    to = PhoneField()
    body = StrictCharField(max_length=BODY_MAX, trim_whitespace=False)
    send_at = serializers.DateTimeField(required=False)

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("The message is empty.")
        return value


class BatchSendSerializer(StrictSerializer):
    messages = serializers.ListField(
        child=serializers.JSONField(),
        allow_empty=False,
        help_text=f"Up to {conf.DEFAULTS['API_BATCH_MAX']} messages: to, body, send_at.",
    )
    sender = StrictCharField(required=False, max_length=20)


class BatchSchema(serializers.Serializer):
    """For the schema only: the documented shape of a batch."""

    messages = BatchItemSerializer(many=True)
    sender = serializers.CharField(required=False, max_length=20)


class BatchResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    messages = serializers.ListField(child=serializers.DictField())


class MessageSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    to = serializers.CharField(source="to_number")
    sender = serializers.CharField(source="from_number")
    send_at = serializers.DateTimeField(source="send_after")
    campaign_id = serializers.IntegerField(allow_null=True)
    cost = serializers.DecimalField(max_digits=10, decimal_places=4, allow_null=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "direction",
            "to",
            "sender",
            "body",
            "status",
            "priority",
            "encoding",
            "segments",
            "cost",
            "campaign_id",
            "send_at",
            "created_at",
            "queued_at",
            "sent_at",
            "delivered_at",
            "undelivered_at",
            "failed_at",
            "suppressed_at",
            "cancelled_at",
            "received_at",
            "error_code",
            "error_reason",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Message) -> dict:
        # The same fields and formats as DRF's own loop, but fields built once per
        # process: building a ModelSerializer's fields costs far more than rendering
        # one message with them (a third of the CPU of a send). Every source is one
        # plain model attribute, read with getattr (DRF's get_attribute, made for
        # nested sources and callables, cost half of the rendering).
        data = {}
        for name, attribute, field in _message_fields():
            value = getattr(instance, attribute)
            data[name] = None if value is None else field.to_representation(value)
        return data


@functools.cache
def _message_fields() -> tuple[tuple[str, str, serializers.Field], ...]:
    fields = tuple(MessageSerializer()._readable_fields)
    for field in fields:
        # A field on a related object or a method would need DRF's get_attribute.
        attribute = getattr(Message, field.source_attrs[0], None)
        if len(field.source_attrs) != 1 or not isinstance(attribute, DeferredAttribute):
            raise TypeError(f"MessageSerializer.{field.field_name} is not a model field")
    return tuple((field.field_name, field.source_attrs[0], field) for field in fields)


class MessageFilterSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    direction = serializers.ChoiceField(choices=["in", "out"], required=False)
    to = PhoneField(required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    campaign = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    cursor = serializers.CharField(required=False, max_length=500)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)


# --- contacts ---------------------------------------------------------------------------
class ContactSerializer(serializers.ModelSerializer):
    lists = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "phone",
            "first_name",
            "last_name",
            "email",
            "time_zone",
            "country",
            "custom",
            "opted_out",
            "opted_out_at",
            "source",
            "lists",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_lists(self, contact: Contact) -> list[int]:
        return sorted(m.contact_list_id for m in contact.listmembership_set.all())


class ContactWriteSerializer(StrictSerializer):
    phone = PhoneField()
    first_name = StrictCharField(required=False, allow_blank=True, max_length=150)
    last_name = StrictCharField(required=False, allow_blank=True, max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    time_zone = StrictCharField(required=False, allow_blank=True, max_length=64)
    custom = serializers.DictField(required=False, child=serializers.JSONField())

    def validate_time_zone(self, value: str) -> str:
        if value and value not in available_timezones():
            raise serializers.ValidationError("Unknown time zone (use a name like Europe/London).")
        return value

    def validate_custom(self, value: dict) -> dict:
        from contacts.services import custom_value

        known = [k for k in value if _SLUG.fullmatch(k)]
        fields = {f.key: f for f in CustomField.objects.filter(key__in=known)}
        errors, parsed = {}, {}
        for key, raw in value.items():
            field = fields.get(key)
            if isinstance(raw, str) and "\x00" in raw:
                errors[key] = "Null characters are not allowed."
            elif field is None:
                errors[key] = "Unknown custom field."
            elif raw is not None and not isinstance(raw, str | int | float | bool):
                errors[key] = "A custom value is text, a number, true/false or null."
            else:
                try:
                    parsed[key] = custom_value(field, raw)
                except DjangoValidationError as exc:
                    errors[key] = exc.messages[0]
        if errors:
            raise serializers.ValidationError(errors)
        return parsed


class ContactFindSerializer(StrictSerializer):
    phone = PhoneField(required=False)
    cursor = serializers.CharField(required=False, max_length=500)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)


class ConsentSerializer(StrictSerializer):
    phone = PhoneField()
    note = StrictCharField(required=False, allow_blank=True, max_length=1000)


class ConsentResultSerializer(serializers.Serializer):
    phone = serializers.CharField()
    opted_out = serializers.BooleanField()
    contact_id = serializers.IntegerField(allow_null=True)


# --- lists and segments -----------------------------------------------------------------
class ListSerializer(serializers.ModelSerializer):
    members = serializers.IntegerField(read_only=True)

    class Meta:
        model = ContactList
        fields = ["id", "name", "description", "members", "created_at"]
        read_only_fields = fields


class MembersAddSerializer(StrictSerializer):
    contact_ids = serializers.ListField(
        child=_id_field(), required=False, max_length=conf.DEFAULTS["API_BATCH_MAX"]
    )
    phones = serializers.ListField(
        child=PhoneField(),
        required=False,
        max_length=conf.DEFAULTS["API_BATCH_MAX"],
        help_text="Numbers without a contact get a new contact.",
    )

    def validate(self, data):
        if not data.get("contact_ids") and not data.get("phones"):
            raise serializers.ValidationError("Give contact_ids or phones.")
        return data


class MembersAddedSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    members = serializers.IntegerField()


class SegmentSerializer(serializers.ModelSerializer):
    count = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Segment
        fields = ["id", "name", "match", "rules", "count", "updated_at"]
        read_only_fields = fields


# --- campaigns --------------------------------------------------------------------------
class CampaignSerializer(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender.value", read_only=True)
    lists = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    segments = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "status",
            "sender",
            "body",
            "lists",
            "segments",
            "opt_out_footer",
            "schedule",
            "scheduled_at",
            "recipients",
            "suppressed",
            "created_at",
            "launched_at",
            "completed_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class CampaignCreateSerializer(StrictSerializer):
    name = StrictCharField(max_length=150)
    body = StrictCharField(max_length=BODY_MAX, trim_whitespace=False)
    sender = StrictCharField(required=False, max_length=20)
    lists = serializers.ListField(child=_id_field(), required=False, max_length=100)
    segments = serializers.ListField(child=_id_field(), required=False, max_length=100)
    opt_out_footer = StrictBooleanField(required=False, default=True)
    scheduled_at = serializers.DateTimeField(
        required=False, help_text="Send at this time; left out: send when scheduled."
    )

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("The message is empty.")
        return value

    def validate(self, data):
        if not data.get("lists") and not data.get("segments"):
            raise serializers.ValidationError("Choose at least one list or segment.")
        return data


class CampaignReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField())
    total = serializers.IntegerField()
    delivered_rate = serializers.FloatField(allow_null=True)
    cost = serializers.DecimalField(max_digits=14, decimal_places=4)
    clicks_unique = serializers.IntegerField()
    clicks_total = serializers.IntegerField()
    replied = serializers.IntegerField()
    opted_out = serializers.IntegerField()
    failures = serializers.ListField(child=serializers.DictField())


# --- one-time passwords -----------------------------------------------------------------
class OtpSendSerializer(StrictSerializer):
    phone = PhoneField()
    template = StrictCharField(
        required=False,
        max_length=320,
        help_text="Text with {code} (and optionally {minutes}).",
    )
    sender = StrictCharField(required=False, max_length=20)

    def validate_template(self, value: str) -> str:
        if "{code}" not in value:
            raise serializers.ValidationError("The template must contain {code}.")
        return value


class OtpSentSerializer(serializers.Serializer):
    phone = serializers.CharField()
    expires_at = serializers.DateTimeField()
    message_id = serializers.UUIDField()


class OtpVerifySerializer(StrictSerializer):
    phone = PhoneField()
    code = StrictCharField(max_length=12)


class OtpVerifiedSerializer(serializers.Serializer):
    verified = serializers.BooleanField()
    phone = serializers.CharField()


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
