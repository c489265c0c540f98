"""Each list, thread and search query is served by the index named after it, on
a table shaped like a real one (PostgreSQL; inbox.benchdata writes the rows)."""

import time

import pytest
from django.db import connection
from django.utils import timezone

from inbox import benchdata, queries, search
from inbox.models import Conversation
from tests.factories import user_with_role

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL indexes"),
]


def _plan(queryset) -> str:
    return queryset.explain()


def _rare_text() -> str:
    """A message number that occurs once and is not among the body's histogram
    bounds. ANALYZE samples the bounds; when the one matching body happens to be
    one of them the planner takes the text to match 1 row in 100 and walks the
    primary key instead (CI once drew #12345 so)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(histogram_bounds::text, '') FROM pg_stats"
            " WHERE tablename = 'messaging_message' AND attname = 'body'"
        )
        bounds = cursor.fetchone()[0]
    return next(f"#{n}" for n in range(12345, 12445) if f"#{n}" not in bounds)


def test_the_lists_thread_and_search_use_their_indexes(sender):
    agents = [user_with_role(None, username=f"agent{i}") for i in range(5)]
    users = [a.pk for a in agents]
    started = time.monotonic()
    benchdata.seed(sender=sender, users=users, conversations=20_000, messages=100_000)
    assert time.monotonic() - started < 60
    agent = agents[0]
    page = queries.PAGE_SIZE + 1

    def folder(key: str):
        return queries.folder_conversations(key, agent).order_by("-last_message_at", "-id")[:page]

    some = Conversation.objects.get(contact_number=benchdata.number(1234))
    plans = {
        "conversation_mine_idx": folder("mine"),
        "conversation_unassigned_idx": folder("unassigned"),
        "conversation_open_idx": folder("all"),
        "conversation_snoozed_idx": folder("snoozed"),
        "conversation_closed_idx": folder("closed"),
        "conversation_by_keyword_idx": folder("keyword:JOIN"),
        "conversation_by_number_idx": folder(f"number:{sender.pk}"),
        "conversation_unread_idx": Conversation.objects.filter(status="open", unread_count__gt=0),
        "conversation_changed_idx": Conversation.objects.filter(changed_at__gt=timezone.now()),
        "message_by_to_idx": queries.thread_messages(some).order_by("-created_at", "-id")[:61],
        # A rare text reads the trigram index (a common one walks the newest first).
        "message_body_search_trgm": search.message_search(_rare_text())[:31],
        "conversation_number_search_trgm": Conversation.objects.filter(
            contact_number__contains="0001234"
        ),
    }
    # An agent with a fifth of the open conversations: walking the open list is as
    # cheap as their own index, and the planner may take either.
    also = {"conversation_mine_idx": "conversation_open_idx"}
    missing = {}
    for index, queryset in plans.items():
        plan = _plan(queryset)
        if index not in plan and also.get(index, index) not in plan:
            missing[index] = plan
    assert missing == {}
    for index in ("conversation_mine_idx", "conversation_open_idx", "message_by_to_idx"):
        assert "Seq Scan" not in _plan(plans[index])
    assert "Seq Scan" not in _plan(search.message_search("refund for order")[:31])
