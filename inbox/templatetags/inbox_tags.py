"""Small display helpers for the inbox templates."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

AVATAR_COLORS = [
    "#4c6ef5",
    "#12b886",
    "#f59f00",
    "#e64980",
    "#7950f2",
    "#15aabf",
    "#fa5252",
    "#40c057",
]

TICKS = {
    "queued": ("clock", "Queued", "pending"),
    "sending": ("clock", "Sending", "pending"),
    "sent": ("check2", "Sent", "sent"),
    "delivered": ("check2-all", "Delivered", "delivered"),
    "undelivered": ("exclamation-circle", "Not delivered", "failed"),
    "failed": ("exclamation-circle", "Failed", "failed"),
    "suppressed": ("slash-circle", "Not sent: the contact opted out", "failed"),
    "cancelled": ("x-circle", "Cancelled", "failed"),
    "expired": ("x-circle", "Expired", "failed"),
}


@register.filter
def short_time(moment) -> str:
    """14:02 today, 'Mon' this week, '12 Mar' this year, '12 Mar 2024' before."""
    if not moment:
        return ""
    local, now = timezone.localtime(moment), timezone.localtime()
    if local.date() == now.date():
        return f"{local:%H:%M}"
    if local.date() == now.date() - timedelta(days=1):
        return "Yesterday"
    if now - local < timedelta(days=6):
        return f"{local:%a}"
    if local.year == now.year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


@register.filter
def stamp(moment) -> str:
    """Time of a message in the thread: the date too unless it was today."""
    if not moment:
        return ""
    local, now = timezone.localtime(moment), timezone.localtime()
    if local.date() == now.date():
        return f"{local:%H:%M}"
    return f"{local.day} {local:%b} {local:%H:%M}"


@register.filter
def initials(conversation) -> str:
    contact = conversation.contact
    if contact and (contact.first_name or contact.last_name):
        return ((contact.first_name[:1] + contact.last_name[:1]) or "?").upper()
    digits = [c for c in conversation.contact_number if c.isdigit()]
    return "".join(digits[-2:]) or "#"


@register.filter
def user_initials(user) -> str:
    if not user:
        return ""
    name = user.get_full_name() or user.get_username()
    parts = name.split()
    return "".join(p[0] for p in parts[:2]).upper() or "?"


@register.filter
def avatar_color(value) -> str:
    digest = hashlib.md5(str(value).encode(), usedforsecurity=False).digest()
    return AVATAR_COLORS[digest[0] % len(AVATAR_COLORS)]


@register.filter
def row_sort_key(conversation) -> str:
    micros = int(conversation.last_message_at.timestamp() * 1_000_000)
    return f"{micros:017d}{conversation.pk:012d}"


@register.filter
def tick_icon(status: str) -> str:
    return TICKS.get(status, ("dot", status, ""))[0]


@register.filter
def tick_label(status: str) -> str:
    return TICKS.get(status, ("", status.title(), ""))[1]


@register.filter
def tick_class(status: str) -> str:
    return TICKS.get(status, ("", "", ""))[2]


@register.filter
def action_label(kind: str) -> str:
    from inbox.models import RuleAction

    try:
        return RuleAction.Kind(kind).label
    except ValueError:
        return kind


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def highlight(text: str, query: str) -> SafeString:
    """The text escaped, with each case-insensitive match of query in <mark>.
    Every piece is escaped before it is marked safe."""
    text, query = text or "", (query or "").strip()
    if not query:
        return mark_safe(escape(text))  # noqa: S308 - escaped
    lowered, needle = text.lower(), query.lower()
    start = lowered.find(needle)
    # Centre a long text on the first match.
    if start > 60:
        cut = text.rfind(" ", 0, start - 40)
        cut = cut if cut > 0 else start - 40
        text, lowered = "…" + text[cut:], "…" + lowered[cut:]
    out, position = [], 0
    while needle:
        found = lowered.find(needle, position)
        if found < 0:
            break
        out.append(escape(text[position:found]))
        out.append(f"<mark>{escape(text[found : found + len(needle)])}</mark>")
        position = found + len(needle)
    out.append(escape(text[position:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece escaped
