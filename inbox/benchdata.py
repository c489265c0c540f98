"""Synthetic inbox data at scale, written set-based (INSERT ... SELECT from
generate_series), for benchmarks and for query-plan tests on a realistically
shaped table. PostgreSQL only.

    seed(sender=sender, users=[...], conversations=100_000, messages=5_000_000)

Conversations: 60% closed, 5% snoozed, the rest open; half of them assigned round
robin to `users`; 2% with the keyword JOIN; 5% unread. Messages: 35% inbound, 35%
inbox replies, 30% campaign copies, spread evenly over the conversations, one a
second going back from now."""

from __future__ import annotations

from django.db import connection

from messaging.models import Sender

SENTENCES = [
    "Where is my parcel? It was due yesterday",
    "Can I change my booking to Friday please",
    "Thanks, that worked!",
    "What time do you open on Saturday?",
    "I never received the refund for order",
    "Please call me back about my invoice",
    "Is the offer still on? I saw the advert",
    "My code does not work at checkout",
    "Running 10 minutes late, sorry",
    "Can you send the receipt by email",
]


def number(i: int) -> str:
    """The contact number of the i-th synthetic conversation (1-based)."""
    return "+4479" + str(i).zfill(8)


def seed(*, sender: Sender, users: list[int], conversations: int, messages: int) -> None:
    if connection.vendor != "postgresql":
        raise RuntimeError("benchdata.seed needs PostgreSQL")
    params = {
        "platform": sender.value,
        "sender": sender.pk,
        "account": sender.account_id,
        "users": users or [None],
        "n": conversations,
        "m": messages,
        "sentences": SENTENCES,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO inbox_conversation (
                contact_number, platform_number, sender_id, status, snoozed_until,
                assignee_id, keyword, last_message_at, last_message_preview,
                last_message_direction, last_inbound_at, inbound_count, unread_count,
                changed_at, created_at)
            SELECT '+4479' || lpad(i::text, 8, '0'), %(platform)s, %(sender)s,
                CASE WHEN i %% 20 = 0 THEN 'snoozed' WHEN i %% 10 < 6 THEN 'closed' ELSE 'open' END,
                CASE WHEN i %% 20 = 0 THEN now() + interval '1 day' END,
                CASE WHEN i %% 2 = 0 THEN
                    (%(users)s::bigint[])[1 + (i / 2) %% cardinality(%(users)s::bigint[])] END,
                CASE WHEN i %% 50 = 0 THEN 'JOIN' ELSE '' END,
                now() - i * interval '7 seconds',
                (%(sentences)s::text[])[1 + i %% 10],
                'in', now() - i * interval '7 seconds', 5,
                CASE WHEN i %% 20 = 1 THEN 2 ELSE 0 END,
                now() - i * interval '7 seconds', now() - interval '30 days'
            FROM generate_series(1, %(n)s) AS i
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO messaging_message (
                uuid, direction, account_id, sender_id, from_number, to_number, campaign_id,
                body, encoding, segments, status, priority, send_after, attempts,
                provider_message_id, provider_response, error_code, error_reason, created_at,
                merge, held, compliance, received_at, processed_at)
            SELECT md5(j::text || 'inbox-bench')::uuid,
                CASE WHEN inbound THEN 'in' ELSE 'out' END,
                %(account)s, %(sender)s,
                CASE WHEN inbound THEN num ELSE %(platform)s END,
                CASE WHEN inbound THEN %(platform)s ELSE num END,
                CASE WHEN campaign THEN 1 + j %% 50 END,
                CASE WHEN campaign THEN 'Spring sale: 20%% off everything this weekend'
                     ELSE (%(sentences)s::text[])[1 + j %% 10] || ' #' || j END,
                'GSM-7', 1,
                CASE WHEN inbound THEN 'received' ELSE 'delivered' END,
                CASE WHEN campaign THEN 'bulk' ELSE 'transactional' END,
                ts, 0, CASE WHEN inbound THEN 'bench-' || j ELSE '' END, '{}', '', '', ts,
                false, false, false,
                CASE WHEN inbound THEN ts END, CASE WHEN inbound THEN ts END
            FROM (
                SELECT j, j %% 20 < 7 AS inbound, j %% 20 >= 14 AS campaign,
                    '+4479' || lpad((1 + j %% %(n)s)::text, 8, '0') AS num,
                    now() - j * interval '1 second' AS ts
                FROM generate_series(1, %(m)s) AS j
            ) AS s
            """,
            params,
        )
        cursor.execute("ANALYZE inbox_conversation")
        cursor.execute("ANALYZE messaging_message")
