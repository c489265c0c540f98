"""Keyset pagination by id, newest first: fast at any depth, unlike OFFSET."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import HttpRequest


@dataclass(frozen=True)
class KeysetPage:
    items: list
    next_query: str  # the query string of the next (older) page, or ""
    first: bool  # no ?before= cursor: this is the newest page


def keyset_page(request: HttpRequest, queryset: QuerySet, size: int = 50) -> KeysetPage:
    before = request.GET.get("before", "")
    if before.isdigit():
        queryset = queryset.filter(id__lt=int(before))
    items = list(queryset.order_by("-id")[: size + 1])
    more = len(items) > size
    items = items[:size]
    query = request.GET.copy()
    query.pop("before", None)
    if more:
        query["before"] = items[-1].id
    return KeysetPage(items=items, next_query=query.urlencode() if more else "", first=not before)
