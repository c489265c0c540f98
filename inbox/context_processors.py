"""`inbox_unread` for the navigation: conversations waiting for this user (their
own plus unassigned ones with unread texts). Lazy: no query unless a template
shows it."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from smsworks.permissions import can


def _count(user) -> int:
    from inbox.queries import folder_counts

    counts = folder_counts(user)
    return counts["mine"] + counts["unassigned"]


def unread(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not can(user, "inbox_use"):
        return {}
    return {"inbox_unread": SimpleLazyObject(lambda: _count(user))}
