"""Keyword rules, auto-responders, routing and forwarding.

Rules are read from the database for every inbound text (a change takes effect at
once). A rule matches by keyword (the first word, any case), platform number and
time window, then runs its actions in order; each action's outcome is recorded in
a RuleRun for the rule page. Email and webhook forwards are outbox rows delivered
by a task after commit (inbox/forwards.py)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contacts import phone as phones
from contacts.lists import list_add_contacts
from contacts.models import Contact, Source, Suppression
from contacts.services import contact_opt_in
from inbox import services
from inbox.models import Activity, AutoReply, Conversation, Forward, Rule, RuleAction, RuleRun
from messaging.merge import contact_values, render
from messaging.models import Message, Priority
from messaging.services import SendRefused, message_send

log = logging.getLogger(__name__)

# A text that arrives this soon after our auto-reply is probably another machine's.
ECHO_SECONDS = 20
# Auto-replies to one number in any hour, whatever the rules say.
HOURLY_AUTO_REPLY_CAP = 3
AUTOMATED = re.compile(
    r"auto[- ]?reply|automatic reply|automated (message|response|reply)|out of (the )?office"
    r"|do not reply|don'?t reply|no[- ]?reply|not monitored|unattended|i am (currently )?away"
    r"|this is an automated",
    re.IGNORECASE,
)


def first_word(body: str) -> str:
    words = body.split()
    return words[0].strip(".,!?;:'\"()").upper() if words else ""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_window(rule: Rule, at: datetime) -> bool:
    """Is `at` inside the rule's days and hours? A window that wraps midnight
    (18:00-08:00) belongs to the day it starts on."""
    local = at.astimezone(_zone(rule.time_zone))
    now, day = local.time(), local.weekday()
    start, end = rule.start_time, rule.end_time
    if start is None or end is None or start == end:
        inside, window_day = True, day
    elif start < end:
        inside, window_day = start <= now < end, day
    elif now >= start:
        inside, window_day = True, day
    else:
        inside, window_day = now < end, (day - 1) % 7
    if inside and rule.days:
        inside = window_day in rule.days
    return inside


def matches(rule: Rule, *, message: Message, conversation: Conversation, at: datetime) -> bool:
    if rule.keyword and first_word(message.body) != rule.keyword.upper():
        return False
    if rule.sender_id and rule.sender_id != conversation.sender_id:
        return False
    inside = in_window(rule, at)
    return inside if rule.window == Rule.Window.INSIDE else not inside


def describe_window(rule: Rule) -> str:
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    days = ", ".join(names[d] for d in sorted(rule.days)) if rule.days else "every day"
    if rule.start_time and rule.end_time and rule.start_time != rule.end_time:
        hours = f"{rule.start_time:%H:%M}-{rule.end_time:%H:%M}"
    else:
        hours = "all day"
    if not rule.days and hours == "all day":
        return "Any time"
    text = f"{days}, {hours} ({rule.time_zone})"
    return text if rule.window == Rule.Window.INSIDE else f"Outside {text}"


@dataclass
class Context:
    message: Message
    conversation: Conversation
    contact: Contact | None
    run: RuleRun
    rule: Rule
    now: datetime


def auto_reply_refusal(ctx: Context) -> str:
    """Why an auto-reply must not go out, or ''. Loop guards first."""
    message, number = ctx.message, ctx.message.from_number
    if first_word(message.body) in services.COMPLIANCE_WORDS:
        return "the text starts with an opt-out or help word"
    if not number.startswith("+") or len(number) <= 8:
        return "the sender is a short code or sender ID"
    if AUTOMATED.search(message.body):
        return "the text looks automated"
    if Suppression.objects.filter(phone=number).exists():
        return "the contact opted out"
    if ctx.conversation.sender_id is None:
        return "the number is not one of our senders"
    recent = AutoReply.objects.filter(phone=number)
    echo_from = message.created_at - timedelta(seconds=ECHO_SECONDS)
    if recent.filter(created_at__gte=echo_from, created_at__lte=message.created_at).exists():
        return "the number answered our auto-reply within seconds (another auto-responder?)"
    if recent.filter(created_at__gte=ctx.now - timedelta(hours=1)).count() >= HOURLY_AUTO_REPLY_CAP:
        return f"already {HOURLY_AUTO_REPLY_CAP} auto-replies to this number in the last hour"
    if ctx.rule.reply_cooldown_hours:
        since = ctx.now - timedelta(hours=ctx.rule.reply_cooldown_hours)
        if recent.filter(rule=ctx.rule, created_at__gte=since).exists():
            return f"already answered by this rule in the last {ctx.rule.reply_cooldown_hours} h"
    return ""


def _auto_reply(action: RuleAction, ctx: Context) -> tuple[str, str]:
    refusal = auto_reply_refusal(ctx)
    if refusal:
        return "skipped", refusal
    body = render(action.text, contact_values(ctx.contact)) if ctx.contact else action.text
    outcome = services.conversation_send_automatic(
        conversation=ctx.conversation, body=body, contact=ctx.contact
    )
    AutoReply.objects.create(
        phone=ctx.message.from_number,
        platform_number=ctx.conversation.platform_number,
        rule=ctx.rule,
        message_id=outcome.message.pk,
        created_at=ctx.now,
    )
    return "done", f"replied: {preview(body)}"


def _add_to_list(action: RuleAction, ctx: Context) -> tuple[str, str]:
    if ctx.contact is None:
        return "skipped", "the number has no contact"
    detail = ""
    if action.opt_in:
        contact_opt_in(
            phone=ctx.contact.phone,
            source=Source.KEYWORD,
            keyword=first_word(ctx.message.body),
            text=ctx.message.body,
            message_id=ctx.message.pk,
        )
        detail = "consent recorded; "
        Activity.objects.create(
            conversation=ctx.conversation,
            kind=Activity.Kind.CONSENT,
            text=f"Opted in by texting {first_word(ctx.message.body)} (rule {ctx.rule.name}).",
        )
    added = list_add_contacts(contact_list=action.contact_list, contact_ids=[ctx.contact.pk])
    return "done", detail + (
        f"added to {action.contact_list}" if added else f"already in {action.contact_list}"
    )


def _assign(action: RuleAction, ctx: Context) -> tuple[str, str]:
    if not action.user.is_active:
        return "skipped", f"{action.user} is deactivated"
    changed = services.conversation_assign(
        conversation=ctx.conversation, assignee=action.user, actor=None, reason=f"rule {ctx.rule}"
    )
    name = action.user.get_full_name() or action.user.get_username()
    return "done", f"assigned to {name}" if changed else f"already assigned to {name}"


def _label(action: RuleAction, ctx: Context) -> tuple[str, str]:
    services.conversation_label_set(
        conversation=ctx.conversation,
        label=action.label,
        on=True,
        actor=None,
        reason=f"rule {ctx.rule}",
    )
    return "done", f"labelled {action.label}"


def split_targets(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,;]+", text) if t]


def _forward_sms(action: RuleAction, ctx: Context) -> tuple[str, str]:
    sender = ctx.conversation.sender
    who = ctx.contact.full_name if ctx.contact and ctx.contact.full_name else ""
    origin = f"{who} {ctx.message.from_number}".strip()
    body = f"Fwd from {origin}: {ctx.message.body}"
    sent, skipped = [], []
    for target in split_targets(action.text):
        try:
            number = phones.normalize(target)
        except phones.InvalidNumber:
            skipped.append(f"{target} (invalid)")
            continue
        if number == ctx.message.from_number:
            # The on-call phone texting the support number is not sent back to itself.
            skipped.append(f"{number} (the sender)")
            continue
        try:
            outcome = message_send(
                to=number, body=body, sender=sender, priority=Priority.TRANSACTIONAL
            )
        except SendRefused as exc:
            skipped.append(f"{number} ({exc})")
            continue
        (skipped if outcome.suppressed else sent).append(
            f"{number} (opted out)" if outcome.suppressed else number
        )
    detail = f"sent to {', '.join(sent)}" if sent else "sent to nobody"
    if skipped:
        detail += f"; skipped {', '.join(skipped)}"
    return ("done" if sent else "skipped"), detail


def _forward(kind: str, action: RuleAction, ctx: Context) -> tuple[str, str]:
    from inbox import forwards

    payload = forwards.payload_for(
        kind=kind, message=ctx.message, conversation=ctx.conversation, rule=ctx.rule
    )
    forward = Forward.objects.create(
        kind=kind,
        run=ctx.run,
        message_id=ctx.message.pk,
        target=action.text.strip(),
        payload=payload,
    )
    transaction.on_commit(lambda: forwards.enqueue(forward.pk))
    return "queued", f"to {action.text.strip()}"


ACTIONS = {
    RuleAction.Kind.AUTO_REPLY: _auto_reply,
    RuleAction.Kind.ADD_TO_LIST: _add_to_list,
    RuleAction.Kind.ASSIGN: _assign,
    RuleAction.Kind.LABEL: _label,
    RuleAction.Kind.FORWARD_SMS: _forward_sms,
    RuleAction.Kind.FORWARD_EMAIL: lambda a, c: _forward(Forward.Kind.EMAIL, a, c),
    RuleAction.Kind.WEBHOOK: lambda a, c: _forward(Forward.Kind.WEBHOOK, a, c),
}


def preview(text: str, length: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def rules_apply(*, message: Message, conversation: Conversation) -> list[RuleRun]:
    """Run every matching active rule, in order, inside the caller's transaction
    (the conversation row is locked). One failing action is recorded as failed and
    does not stop the others."""
    now = timezone.now()
    contact = message.contact or conversation.contact
    runs = []
    rules = Rule.objects.filter(is_active=True).prefetch_related(
        "actions", "actions__contact_list", "actions__user", "actions__label"
    )
    for rule in rules.order_by("position", "id"):
        if not matches(rule, message=message, conversation=conversation, at=message.created_at):
            continue
        run = RuleRun.objects.create(
            rule=rule,
            message_id=message.pk,
            conversation=conversation,
            contact_number=message.from_number,
            text=message.body[:500],
            created_at=now,
        )
        ctx = Context(message, conversation, contact, run, rule, now)
        results = []
        for action in rule.actions.all():
            try:
                with transaction.atomic():
                    outcome, detail = ACTIONS[action.kind](action, ctx)
            except Exception as exc:
                log.exception("rule %s action %s failed", rule.pk, action.kind)
                outcome, detail = "failed", f"{type(exc).__name__}: {exc}"
            results.append({"kind": action.kind, "outcome": outcome, "detail": detail})
        run.results = results
        run.save(update_fields=["results"])
        if rule.keyword:
            Conversation.objects.filter(pk=conversation.pk).update(keyword=rule.keyword.upper())
        done = ", ".join(
            f"{RuleAction.Kind(r['kind']).label.lower()} {r['outcome']}" for r in results
        )
        Activity.objects.create(
            conversation=conversation,
            kind=Activity.Kind.RULE,
            text=f"Rule “{rule.name}” matched: {done or 'no actions'}.",
            created_at=now,
        )
        runs.append(run)
        if rule.stop_after:
            break
    return runs


def rule_matches_now(rule: Rule, at: datetime | None = None) -> bool:
    """For the rules page: would a text (any keyword) match the window right now?"""
    inside = in_window(rule, at or timezone.now())
    return inside if rule.window == Rule.Window.INSIDE else not inside


DEFAULT_OFFICE_START = time(9, 0)
DEFAULT_OFFICE_END = time(17, 30)
