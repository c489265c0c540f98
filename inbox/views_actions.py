"""What an agent does to a conversation: reply, note, assign, snooze, close, label.

HTMX requests get a small answer plus an `inbox-poll` trigger, so the page's poll
brings the new message, event and header at once; plain form posts redirect."""

from __future__ import annotations

import uuid

from django.contrib import messages as flash
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from inbox import services
from inbox.forms import AssignForm, LabelToggleForm, NoteForm, ReplyForm, StatusForm
from inbox.models import CannedReply, Conversation
from inbox.views import _canned, _conversation, consent_reason, contact_for
from messaging.merge import contact_values
from messaging.merge import render as merge_render
from messaging.services import SendRefused
from smsworks.permissions import require


def _done(request, conversation: Conversation, error: str = "") -> HttpResponse:
    if request.htmx:
        response = HttpResponse(status=204)
        if error:
            response = HttpResponse(error, status=422, content_type="text/plain")
        response["HX-Trigger"] = "inbox-poll"
        return response
    if error:
        flash.error(request, error)
    return redirect("inbox:conversation", pk=conversation.pk)


def _composer(
    request, conversation: Conversation, *, body: str = "", error: str = "", mode="reply"
):
    refusal = consent_reason(conversation)
    return render(
        request,
        "inbox/_composer.html",
        {
            "conversation": conversation,
            "refusal": refusal,
            "composer_state": "locked" if refusal else "open",
            "canned": _canned(request.user),
            "nonce": uuid.uuid4(),
            "draft": body,
            "error": error,
            "mode": mode,
        },
        status=422 if error else 200,
    )


@require("inbox_use")
@require_POST
def reply(request, pk: int):
    conversation = _conversation(pk)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        error = " ".join(e for errors in form.errors.values() for e in errors)
        return _composer(request, conversation, body=request.POST.get("body", ""), error=error)
    try:
        outcome = services.conversation_reply(
            conversation=conversation,
            user=request.user,
            body=form.cleaned_data["body"],
            nonce=form.cleaned_data["nonce"],
        )
    except SendRefused as exc:
        if not request.htmx:
            flash.error(request, str(exc))
            return redirect("inbox:conversation", pk=pk)
        return _composer(request, conversation, body=form.cleaned_data["body"], error=str(exc))
    if not request.htmx:
        if outcome.suppressed:
            flash.warning(request, "Not sent: the contact opted out.")
        return redirect("inbox:conversation", pk=pk)
    response = _composer(request, conversation)
    response["HX-Trigger"] = "inbox-poll"
    return response


@require("inbox_use")
@require_POST
def note(request, pk: int):
    conversation = _conversation(pk)
    form = NoteForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["body"].strip():
        return _composer(
            request,
            conversation,
            body=request.POST.get("body", ""),
            error="Write a note first.",
            mode="note",
        )
    services.conversation_note_add(
        conversation=conversation, user=request.user, body=form.cleaned_data["body"]
    )
    if not request.htmx:
        return redirect("inbox:conversation", pk=pk)
    response = _composer(request, conversation, mode="note")
    response["HX-Trigger"] = "inbox-poll"
    return response


@require("inbox_use")
@require_POST
def assign(request, pk: int):
    conversation = _conversation(pk)
    form = AssignForm(request.POST, user=request.user)
    if not form.is_valid():
        return _done(request, conversation, error=" ".join(form.errors["assignee"]))
    services.conversation_assign(
        conversation=conversation, assignee=form.cleaned_data["assignee"], actor=request.user
    )
    return _done(request, conversation)


@require("inbox_use")
@require_POST
def status(request, pk: int):
    conversation = _conversation(pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _done(
            request, conversation, error=" ".join(form.non_field_errors() or ["Bad request."])
        )
    action = form.cleaned_data["action"]
    if action == "close":
        services.conversation_close(conversation=conversation, actor=request.user)
    elif action == "reopen":
        services.conversation_reopen(conversation=conversation, actor=request.user)
    else:
        services.conversation_snooze(
            conversation=conversation, actor=request.user, until=form.cleaned_data["until_at"]
        )
    return _done(request, conversation)


@require("inbox_use")
@require_POST
def label(request, pk: int):
    conversation = _conversation(pk)
    form = LabelToggleForm(request.POST)
    if not form.is_valid():
        return _done(request, conversation, error="Choose a label.")
    services.conversation_label_set(
        conversation=conversation,
        label=form.cleaned_data["label"],
        on=form.cleaned_data["on"],
        actor=request.user,
    )
    return _done(request, conversation)


@require("inbox_use")
@require_GET
def canned_insert(request, pk: int, canned_pk: int):
    """A canned reply rendered for this contact, for the reply box."""
    conversation = _conversation(pk)
    canned = get_object_or_404(
        CannedReply.objects.filter(owner=request.user)
        | CannedReply.objects.filter(owner__isnull=True),
        pk=canned_pk,
    )
    contact = contact_for(conversation)
    body = (
        merge_render(canned.body, contact_values(contact))
        if contact
        else merge_render(canned.body, {})
    )
    return HttpResponse(body, content_type="text/plain; charset=utf-8")
