"""The inbox page (three panes), its partials and the live poll."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from contacts.models import ConsentEvent, Contact, ContactList
from inbox import queries, search, services
from inbox.forms import SNOOZE_CHOICES
from inbox.models import CannedReply, Conversation, Label
from messaging.models import Message
from smsworks.permissions import can, require


def micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def from_micros(text: str) -> datetime | None:
    return datetime.fromtimestamp(int(text) / 1_000_000, tz=UTC) if text.isdigit() else None


def _conversation(pk: int) -> Conversation:
    return get_object_or_404(
        Conversation.objects.select_related("contact", "assignee", "sender"), pk=pk
    )


def _list_context(request, folder_key: str, q: str) -> dict:
    if q:
        hits, more = search.search_messages(q, before=_int(request.GET.get("before_message")))
        return {
            "q": q,
            "search_conversations": []
            if request.GET.get("before_message")
            else search.search_conversations(q, request.user),
            "hits": hits,
            "more_hits": more,
        }
    rows, more = queries.conversation_page(
        queries.folder_conversations(folder_key, request.user),
        request.user,
        before=request.GET.get("before", ""),
    )
    return {"rows": rows, "more": more}


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def consent_reason(conversation: Conversation, refusal: str | None = None) -> str:
    """The reply box's reason, with when and how the contact opted out."""
    refusal = services.reply_refusal(conversation) if refusal is None else refusal
    if not refusal.startswith("The contact opted out"):
        return refusal
    event = (
        ConsentEvent.objects.filter(phone=conversation.contact_number, kind="opt_out")
        .order_by("-created_at")
        .first()
    )
    if event is None:
        return refusal
    how = f"texting {event.keyword}" if event.keyword else event.get_source_display().lower()
    when = timezone.localtime(event.created_at)
    return f"The contact opted out on {when:%d %b %Y at %H:%M} by {how}. Replies are disabled."


def side_context(conversation: Conversation, opted_out: bool) -> dict:
    contact = conversation.contact
    campaign_rows = list(
        Message.objects.filter(to_number=conversation.contact_number, campaign_id__isnull=False)
        .order_by("-created_at")
        .values("campaign_id", "created_at", "status")[:20]
    )
    names = queries._campaign_names({r["campaign_id"] for r in campaign_rows})
    campaigns, seen = [], set()
    for row in campaign_rows:
        if row["campaign_id"] in seen:
            continue
        seen.add(row["campaign_id"])
        campaigns.append({**row, "name": names.get(row["campaign_id"], "(deleted campaign)")})
    consent = (
        ConsentEvent.objects.filter(phone=conversation.contact_number)
        .order_by("-created_at")
        .first()
    )
    lists = []
    if contact is not None:
        lists = list(ContactList.objects.filter(listmembership__contact=contact)[:10])
    return {
        "contact": contact,
        "consent": consent,
        "opted_out": opted_out,
        "lists": lists,
        "campaigns": campaigns[:5],
    }


def _canned(user):
    return CannedReply.objects.filter(owner=user) | CannedReply.objects.filter(owner__isnull=True)


def head_context(request, conversation: Conversation) -> dict:
    """The thread's header, side panel and composer state (also re-sent by the poll)."""
    refusal = services.reply_refusal(conversation)
    opted_out = refusal.startswith("The contact opted out")
    refusal = consent_reason(conversation, refusal)
    return {
        "conversation": conversation,
        "head_version": micros(conversation.changed_at),
        "assignees": queries.inbox_users(),
        "all_labels": Label.objects.all(),
        "label_ids": set(conversation.labels.values_list("pk", flat=True)),
        "snooze_choices": SNOOZE_CHOICES,
        "can_manage_rules": can(request.user, "inbox_rules_manage"),
        "side": side_context(conversation, opted_out),
        "refusal": refusal,
        "composer_state": "locked" if refusal else "open",
    }


def thread_context(request, conversation: Conversation) -> dict:
    services.conversation_mark_read(conversation=conversation, user=request.user)
    return {
        **head_context(request, conversation),
        "thread": queries.thread(conversation),
        "thread_since": micros(timezone.now()),
        "canned": _canned(request.user),
        "nonce": uuid.uuid4(),
    }


@require("inbox_use")
@require_GET
def index(request, pk: int | None = None):
    """The three panes. With a conversation: its thread; an HTMX request aimed at
    the thread pane gets only the thread (the list stays as it is)."""
    conversation = _conversation(pk) if pk else None
    if conversation is not None and request.htmx and request.GET.get("earlier"):
        thread = queries.thread(conversation, before=request.GET["earlier"])
        return render(
            request, "inbox/_thread_earlier.html", {"conversation": conversation, "thread": thread}
        )
    if conversation is not None and request.htmx and request.htmx.target == "thread-pane":
        return render(request, "inbox/_thread_pane.html", thread_context(request, conversation))
    folder_key = request.GET.get("folder", "mine")
    folder = queries.folder_of(folder_key)
    q = request.GET.get("q", "").strip()[:100]
    sidebar = queries.folder_sidebar()
    context = {
        **sidebar,
        "folder_sections": queries.folder_sections(sidebar),
        "folder": folder,
        "folder_key": folder.key,
        "counts": queries.folder_counts(request.user),
        "list_since": micros(timezone.now()),
        "selected_pk": conversation.pk if conversation else None,
        **_list_context(request, folder.key, q),
    }
    if conversation is not None:
        context.update(thread_context(request, conversation))
    return render(request, "inbox/inbox.html", context)


@require("inbox_use")
@require_GET
def conversation_list(request):
    """The next keyset page of a folder or of search results (appended)."""
    folder_key = queries.folder_of(request.GET.get("folder", "mine")).key
    q = request.GET.get("q", "").strip()[:100]
    context = {
        "folder_key": folder_key,
        "selected_pk": _int(request.GET.get("selected")),
        **_list_context(request, folder_key, q),
    }
    return render(request, "inbox/_list_page.html", context)


def _pending(values: list[str]) -> dict[int, str]:
    pending = {}
    for value in values[:200]:
        pk, _, status = value.partition(":")
        if pk.isdigit():
            pending[int(pk)] = status
    return pending


@require("inbox_use")
@require_GET
def poll(request):
    """Everything that changed since the page's cursors, as small fragments the
    page merges by id; 204 when nothing did."""
    now = timezone.now()
    user = request.user
    context: dict = {"now": micros(now)}
    folder_key = queries.folder_of(request.GET.get("folder", "mine")).key
    list_since = from_micros(request.GET.get("list_since", ""))
    if list_since and not request.GET.get("q"):
        rows, removed = queries.changed_since(folder_key, user, list_since - queries.POLL_OVERLAP)
        if rows or removed:
            context.update(
                rows=rows,
                removed=removed,
                counts=queries.folder_counts(user),
                count_keys=["mine", "unassigned", "all", "snoozed"],
                folder_key=folder_key,
                selected_pk=_int(request.GET.get("conversation")),
            )
    pk = _int(request.GET.get("conversation"))
    conversation = (
        Conversation.objects.select_related("contact", "assignee", "sender").filter(pk=pk).first()
        if pk
        else None
    )
    thread_since = from_micros(request.GET.get("thread_since", ""))
    if conversation is not None and thread_since:
        pending = _pending(request.GET.getlist("pending"))
        items = queries.thread_since(conversation, thread_since, pending)
        head_changed = request.GET.get("head_version") != str(micros(conversation.changed_at))
        if head_changed and request.GET.get("visible") == "1":
            services.conversation_mark_read(conversation=conversation, user=user)
        if items or head_changed:
            context.update(conversation=conversation, items=items)
        if head_changed:
            head = head_context(request, conversation)
            state = head.pop("composer_state")
            context.update(head, head=True)
            if state != request.GET.get("composer"):
                context.update(composer_state=state, nonce=uuid.uuid4(), canned=_canned(user))
    if len(context) == 1:
        return HttpResponse(status=204)
    return render(request, "inbox/_poll.html", context)


def contact_for(conversation: Conversation) -> Contact | None:
    return conversation.contact or Contact.objects.filter(phone=conversation.contact_number).first()
