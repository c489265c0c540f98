"""Signal receivers: turn changes reported by messaging, contacts and campaigns into
events. Those apps never import this one; apps.ready() connects these."""

from __future__ import annotations

from contacts.models import ConsentEvent
from integrations import payloads
from integrations.events import emit_safely, subscriptions_changed
from integrations.models import EventType


def on_message_received(sender, message, **kwargs) -> None:
    emit_safely(type=EventType.MESSAGE_RECEIVED, build=lambda: [payloads.message_received(message)])


def on_message_statuses_changed(sender, message_ids, status, **kwargs) -> None:
    if not message_ids:
        return
    emit_safely(
        type=EventType.MESSAGE_STATUS_CHANGED,
        build=lambda: payloads.message_statuses(message_ids, status),
    )


def on_consent_changed(sender, kind, events, **kwargs) -> None:
    if not events:
        return
    event_type = (
        EventType.CONTACT_OPTED_OUT
        if kind == ConsentEvent.Kind.OPT_OUT
        else EventType.CONTACT_OPTED_IN
    )
    emit_safely(type=event_type, build=lambda: payloads.consent_changes(list(events)))


def on_campaign_completed(sender, campaign_id, **kwargs) -> None:
    emit_safely(
        type=EventType.CAMPAIGN_COMPLETED, build=lambda: [payloads.campaign_completed(campaign_id)]
    )


def on_endpoint_changed(sender, **kwargs) -> None:
    subscriptions_changed()


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    from campaigns.services import campaign_completed
    from contacts.services import consent_changed
    from integrations.models import Endpoint
    from messaging.signals import message_received, message_statuses_changed

    uid = "integrations"
    message_received.connect(on_message_received, dispatch_uid=f"{uid}:received")
    message_statuses_changed.connect(on_message_statuses_changed, dispatch_uid=f"{uid}:statuses")
    consent_changed.connect(on_consent_changed, dispatch_uid=f"{uid}:consent")
    campaign_completed.connect(on_campaign_completed, dispatch_uid=f"{uid}:campaign")
    post_save.connect(on_endpoint_changed, sender=Endpoint, dispatch_uid=f"{uid}:endpoint-saved")
    post_delete.connect(on_endpoint_changed, sender=Endpoint, dispatch_uid=f"{uid}:endpoint-gone")
