"""Each list, thread and search query is served by the index named after it, on
a table shaped like a real one (PostgreSQL; inbox.benchdata writes the rows)."""

import re
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inbox import benchdata, queries, search
from inbox.models import Conversation
from messaging.models import Message
from tests.factories import user_with_role

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL indexes"),
]


def _plan(queryset) -> str:
    return queryset.explain()


def _body_bounds() -> str:
    """The message body column's histogram bounds, as text: ANALYZE samples them, and
    a text that one of them contains the planner reckons 1 row in 100."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(histogram_bounds::text, '') FROM pg_stats"
            " WHERE tablename = 'messaging_message' AND attname = 'body'"
        )
        return cursor.fetchone()[0]


def _rare_text() -> str:
    """A message number that occurs once and is not among the body's histogram
    bounds. When the one matching body happens to be one of them the planner walks
    the primary key instead (CI once drew #12345 so)."""
    bounds = _body_bounds()
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


def _walks_the_table(text: str) -> bool:
    plan = _plan(search.message_search(text)[:31])
    return "Index Scan Backward using messaging_message_pkey" in plan and "Index Cond" not in plan


def _in_histogram() -> tuple[str, int]:
    """A message number whose one body ANALYZE put among the body column's histogram
    bounds, older than search.RECENT_IDS: the planner reckons it 1 row in 100 and,
    in one query, walks the primary key from the top (the whole table)."""
    numbers = sorted(int(n) for n in re.findall(r"#(\d{5})\"", _body_bounds()) if int(n) < 50_000)
    number = next(n for n in numbers if _walks_the_table(f"#{n}"))
    return f"#{number}", number


def test_a_search_reads_a_bounded_part_of_the_table_whatever_the_planner_guesses(sender):
    users = [user_with_role(None, username=f"agent{i}").pk for i in range(2)]
    benchdata.seed(sender=sender, users=users, conversations=20_000, messages=100_000)
    text, number = _in_histogram()

    with CaptureQueriesContext(connection) as queries:
        hits, more = search.search_messages(text)

    assert [h.message.body.rsplit("#", 1)[1] for h in hits] == [str(number)]
    assert more == 0
    searches = [q["sql"] for q in queries if "ILIKE" in q["sql"]]
    plans = [_plan_of(sql) for sql in searches]
    assert len(plans) == 2
    assert "Index Cond: (id >= " in plans[0], plans[0]  # the newest ids only
    assert "message_body_search_trgm" in plans[1], plans[1]  # then the index
    assert not any("Index Cond" not in p and "messaging_message_pkey" in p for p in plans)


def test_a_search_pages_across_the_newest_ids_and_the_older_ones(sender):
    benchdata.seed(sender=sender, users=[], conversations=2_000, messages=100_000)
    # "#1000" is in message 100,000 (among the newest ids), 10,000-10,009 and 1,000.
    expected = list(
        Message.objects.filter(campaign_id__isnull=True, body__contains="#1000")
        .order_by("-id")
        .values_list("id", flat=True)
    )
    assert len(expected) == 12

    first, more = search.search_messages("#1000", limit=3)
    rest, end = search.search_messages("#1000", before=more, limit=30)

    assert [h.message.pk for h in first + rest] == expected
    assert end == 0
    common, more = search.search_messages("refund for order")
    assert len(common) == 30 and more


def _plan_of(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())
