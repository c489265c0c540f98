"""Writes to conversations: receive a text, reply, note, assign, snooze, close.

Status changes are conditional updates that check how many rows changed; every
change bumps changed_at, which is what the live lists poll for."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import Contact, Suppression
from inbox.models import Activity, Conversation, ConversationLabel, ConversationRead, Label, Reply
from messaging.inbound import HELP_WORDS, START_WORDS, STOP_WORDS, keyword_of
from messaging.merge import contact_values, has_tags, render
from messaging.models import Direction, Message, Priority, Sender
from messaging.services import Outcome, SendRefused, message_send

COMPLIANCE_WORDS = STOP_WORDS | START_WORDS | HELP_WORDS
PREVIEW_LENGTH = 160


def preview_of(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= PREVIEW_LENGTH else text[: PREVIEW_LENGTH - 1] + "…"


def is_compliance_text(body: str) -> bool:
    """STOP, START, HELP and their synonyms: the engine answered them already."""
    return keyword_of(body) in COMPLIANCE_WORDS


def _platform_sender(message: Message) -> Sender | None:
    if message.sender_id:
        return message.sender
    return Sender.objects.filter(value=message.to_number).first()


def conversation_for_inbound(message: Message) -> Conversation:
    """The conversation of an inbound text, created when new; locked for update so
    that texts of one conversation are handled one after another."""
    sender = _platform_sender(message)
    platform_number = sender.value if sender else message.to_number
    # A closed conversation is created for a bare STOP/HELP: nothing for the team to do.
    initial = (
        Conversation.Status.CLOSED if is_compliance_text(message.body) else Conversation.Status.OPEN
    )
    conversation, _ = Conversation.objects.get_or_create(
        contact_number=message.from_number,
        platform_number=platform_number,
        defaults={
            "sender": sender,
            "contact": message.contact,
            "status": initial,
            "last_message_at": message.created_at,
        },
    )
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def _is_newer(conversation: Conversation, message: Message) -> bool:
    if conversation.last_message_id is None:
        return True
    return (message.created_at, message.pk) > (
        conversation.last_message_at,
        conversation.last_message_id,
    )


def conversation_receive(*, conversation: Conversation, message: Message) -> bool:
    """Record one inbound text in its (locked) conversation: counters, last message,
    reopen or wake. Returns False when this message was recorded before."""
    from inbox.models import HandledInbound

    try:
        with transaction.atomic():
            HandledInbound.objects.create(message_id=message.pk, conversation=conversation)
    except IntegrityError:
        return False
    now = timezone.now()
    fields = {"changed_at": now}
    if message.contact_id and conversation.contact_id != message.contact_id:
        fields["contact_id"] = message.contact_id
    if _is_newer(conversation, message):
        fields.update(
            last_message_at=message.created_at,
            last_message_id=message.pk,
            last_message_preview=preview_of(message.body),
            last_message_direction=Direction.INBOUND,
            last_inbound_at=message.created_at,
        )
    if is_compliance_text(message.body):
        keyword = keyword_of(message.body)
        what = (
            "opted out"
            if keyword in STOP_WORDS
            else "opted in"
            if keyword in START_WORDS
            else "asked for help"
        )
        Activity.objects.create(
            conversation=conversation,
            kind=Activity.Kind.CONSENT,
            text=f"The contact {what} by texting {keyword}; the engine answered.",
        )
    else:
        fields["inbound_count"] = F("inbound_count") + 1
        fields["unread_count"] = F("unread_count") + 1
        if conversation.status != Conversation.Status.OPEN:
            was = conversation.get_status_display().lower()
            fields.update(status=Conversation.Status.OPEN, snoozed_until=None, closed_at=None)
            Activity.objects.create(
                conversation=conversation,
                kind=Activity.Kind.STATUS,
                text=f"Reopened by a new text (was {was}).",
            )
    Conversation.objects.filter(pk=conversation.pk).update(**fields)
    conversation.refresh_from_db()
    return True


def _touch_outbound(conversation: Conversation, message: Message) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=message.created_at,
        last_message_id=message.pk,
        last_message_preview=preview_of(message.body),
        last_message_direction=Direction.OUTBOUND,
        changed_at=timezone.now(),
    )


def reply_refusal(conversation: Conversation) -> str:
    """Why the team cannot text this contact from this conversation, or ''."""
    if conversation.sender_id is None:
        return "This number is not one of your senders, so replies cannot go out from it."
    if not conversation.sender.is_active:
        return f"The sender {conversation.sender} is switched off."
    if Suppression.objects.filter(phone=conversation.contact_number).exists():
        return "The contact opted out: no more messages may be sent to this number."
    if not conversation.contact_number.startswith("+"):
        return "This is not a phone number that can receive texts."
    return ""


@transaction.atomic
def conversation_reply(
    *,
    conversation: Conversation,
    user: AbstractBaseUser,
    body: str,
    nonce: UUID | None = None,
) -> Outcome:
    """Send a reply through the engine's transactional lane (never behind a
    campaign). The form's nonce makes a repeated submit send once."""
    if nonce is not None:
        earlier = Reply.objects.filter(nonce=nonce).first()
        if earlier is not None:
            return Outcome(message=Message.objects.get(pk=earlier.message_id), suppressed=False)
    refusal = reply_refusal(conversation)
    if refusal:
        raise SendRefused(refusal)
    contact = (
        conversation.contact or Contact.objects.filter(phone=conversation.contact_number).first()
    )
    if contact is not None and has_tags(body):
        body = render(body, contact_values(contact))
    outcome = message_send(
        to=conversation.contact_number,
        body=body,
        sender=conversation.sender,
        contact=contact,
        priority=Priority.TRANSACTIONAL,
    )
    Reply.objects.create(
        message_id=outcome.message.pk, conversation=conversation, author=user, nonce=nonce
    )
    _touch_outbound(conversation, outcome.message)
    conversation_mark_read(conversation=conversation, user=user)
    return outcome


def conversation_send_automatic(
    *, conversation: Conversation, body: str, contact: Contact | None
) -> Outcome:
    """An auto-reply from a rule: same lane as a reply, no author."""
    outcome = message_send(
        to=conversation.contact_number,
        body=body,
        sender=conversation.sender,
        contact=contact,
        priority=Priority.TRANSACTIONAL,
    )
    _touch_outbound(conversation, outcome.message)
    return outcome


@transaction.atomic
def conversation_note_add(
    *, conversation: Conversation, user: AbstractBaseUser, body: str
) -> Activity:
    """An internal note: shown to the team in the thread, never sent."""
    note = Activity.objects.create(
        conversation=conversation, kind=Activity.Kind.NOTE, actor=user, text=body.strip()
    )
    Conversation.objects.filter(pk=conversation.pk).update(changed_at=timezone.now())
    return note


def _name(user: AbstractBaseUser | None) -> str:
    if user is None:
        return "nobody"
    return user.get_full_name() or user.get_username()


@transaction.atomic
def conversation_assign(
    *,
    conversation: Conversation,
    assignee: AbstractBaseUser | None,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> bool:
    """Assign (or unassign with None). Returns False when nothing changed."""
    new_id = assignee.pk if assignee else None
    changed = (
        Conversation.objects.filter(pk=conversation.pk)
        .exclude(assignee_id=new_id)
        .update(assignee_id=new_id, changed_at=timezone.now())
    )
    if not changed:
        return False
    conversation.assignee = assignee
    by = f" by {_name(actor)}" if actor else (f" by {reason}" if reason else "")
    if assignee is not None and actor is not None and assignee.pk == actor.pk:
        text = f"{_name(actor)} took the conversation."
    elif assignee is not None:
        text = f"Assigned to {_name(assignee)}{by}."
    else:
        text = f"Unassigned{by}."
    Activity.objects.create(
        conversation=conversation, kind=Activity.Kind.ASSIGNED, actor=actor, text=text
    )
    return True


def _set_status(
    conversation: Conversation,
    *,
    allowed_from: list[str],
    actor: AbstractBaseUser | None,
    text: str,
    **fields: object,
) -> bool:
    changed = Conversation.objects.filter(pk=conversation.pk, status__in=allowed_from).update(
        changed_at=timezone.now(), **fields
    )
    if changed != 1:
        return False
    Activity.objects.create(
        conversation=conversation, kind=Activity.Kind.STATUS, actor=actor, text=text
    )
    conversation.refresh_from_db()
    return True


@transaction.atomic
def conversation_close(*, conversation: Conversation, actor: AbstractBaseUser | None) -> bool:
    S = Conversation.Status
    return _set_status(
        conversation,
        allowed_from=[S.OPEN, S.SNOOZED],
        actor=actor,
        text=f"Closed by {_name(actor)}.",
        status=S.CLOSED,
        snoozed_until=None,
        closed_at=timezone.now(),
    )


@transaction.atomic
def conversation_reopen(*, conversation: Conversation, actor: AbstractBaseUser | None) -> bool:
    S = Conversation.Status
    return _set_status(
        conversation,
        allowed_from=[S.CLOSED, S.SNOOZED],
        actor=actor,
        text=f"Reopened by {_name(actor)}.",
        status=S.OPEN,
        snoozed_until=None,
        closed_at=None,
    )


@transaction.atomic
def conversation_snooze(
    *, conversation: Conversation, actor: AbstractBaseUser | None, until: datetime
) -> bool:
    S = Conversation.Status
    local = timezone.localtime(until)
    return _set_status(
        conversation,
        allowed_from=[S.OPEN, S.SNOOZED],
        actor=actor,
        text=f"Snoozed until {local:%a %d %b %H:%M} by {_name(actor)}.",
        status=S.SNOOZED,
        snoozed_until=until,
    )


def conversations_wake_due(*, now: datetime | None = None) -> int:
    """Snoozes that ran out go back to open (a beat tick)."""
    now = now or timezone.now()
    S = Conversation.Status
    woken = 0
    due = list(
        Conversation.objects.filter(status=S.SNOOZED, snoozed_until__lte=now).values_list(
            "pk", flat=True
        )[:500]
    )
    for pk in due:
        with transaction.atomic():
            changed = Conversation.objects.filter(
                pk=pk, status=S.SNOOZED, snoozed_until__lte=now
            ).update(status=S.OPEN, snoozed_until=None, changed_at=timezone.now())
            if changed:
                Activity.objects.create(
                    conversation_id=pk, kind=Activity.Kind.STATUS, text="The snooze ended."
                )
                woken += 1
    return woken


@transaction.atomic
def conversation_label_set(
    *,
    conversation: Conversation,
    label: Label,
    on: bool,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> bool:
    if on:
        _, changed = ConversationLabel.objects.get_or_create(conversation=conversation, label=label)
    else:
        changed = bool(
            ConversationLabel.objects.filter(conversation=conversation, label=label).delete()[0]
        )
    Conversation.objects.filter(pk=conversation.pk).update(changed_at=timezone.now())
    if changed:
        by = f" by {_name(actor)}" if actor else (f" by {reason}" if reason else "")
        verb = "Labelled" if on else "Label removed:"
        Activity.objects.create(
            conversation=conversation,
            kind=Activity.Kind.LABEL,
            actor=actor,
            text=f"{verb} {label.name}{by}.",
        )
    return changed


def conversation_mark_read(*, conversation: Conversation, user: AbstractBaseUser) -> bool:
    """This user has seen every inbound text so far (as loaded); the team's unread
    count is reset. Updates the given object in place."""
    count = conversation.inbound_count
    updated = ConversationRead.objects.filter(
        conversation=conversation, user=user, seen_inbound_count__lt=count
    ).update(seen_inbound_count=count, seen_at=timezone.now())
    if not updated:
        _, created = ConversationRead.objects.get_or_create(
            conversation=conversation, user=user, defaults={"seen_inbound_count": count}
        )
        updated = int(created)
    team = 0
    if conversation.unread_count:
        now = timezone.now()
        team = Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(
            unread_count=0, changed_at=now
        )
        if team:
            conversation.unread_count, conversation.changed_at = 0, now
    return bool(updated or team)
