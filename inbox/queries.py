"""Reads for the inbox page: folders, the conversation list (keyset pages), the
thread and search. Each query is served by an index named after it (models.py and
migration 0002); none aggregates over messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from inbox.models import Activity, AutoReply, Conversation, ConversationRead, Label, Reply, Rule
from messaging.models import STATUS_RANK, Direction, Message, Sender

PAGE_SIZE = 40
THREAD_SIZE = 60
S = Conversation.Status


@dataclass(frozen=True)
class Folder:
    key: str
    title: str
    icon: str
    color: str = ""
    hint: str = ""


MAIN_FOLDERS = [
    Folder("mine", "Mine", "person"),
    Folder("unassigned", "Unassigned", "inbox"),
    Folder("all", "All open", "chat-left-text"),
    Folder("snoozed", "Snoozed", "alarm"),
    Folder("closed", "Closed", "check2-circle"),
]


def folder_of(key: str) -> Folder:
    for folder in MAIN_FOLDERS:
        if folder.key == key:
            return folder
    kind, _, value = key.partition(":")
    if kind == "number" and value.isdigit():
        sender = Sender.objects.filter(pk=int(value)).first()
        if sender:
            return Folder(key, str(sender), "telephone")
    if kind == "label" and value.isdigit():
        label = Label.objects.filter(pk=int(value)).first()
        if label:
            return Folder(key, label.name, "tag")
    if kind == "keyword" and value:
        return Folder(key, value.upper(), "key")
    return MAIN_FOLDERS[0]


def folder_conversations(key: str, user) -> QuerySet[Conversation]:
    conversations = Conversation.objects.all()
    kind, _, value = key.partition(":")
    if key == "mine":
        return conversations.filter(status=S.OPEN, assignee=user)
    if key == "unassigned":
        return conversations.filter(status=S.OPEN, assignee__isnull=True)
    if key == "all":
        return conversations.filter(status=S.OPEN)
    if key == "snoozed":
        return conversations.filter(status=S.SNOOZED)
    if key == "closed":
        return conversations.filter(status=S.CLOSED)
    if kind == "number" and value.isdigit():
        return conversations.filter(sender_id=int(value))
    if kind == "label" and value.isdigit():
        return conversations.filter(conversationlabel__label_id=int(value))
    if kind == "keyword":
        return conversations.filter(keyword=value.upper())
    return conversations.none()


def folder_sidebar() -> dict:
    """The folder pane: numbers, labels and rule keywords (small tables)."""
    keywords = sorted(
        {k.upper() for k in Rule.objects.exclude(keyword="").values_list("keyword", flat=True)}
    )
    numbers = Sender.objects.filter(is_active=True).exclude(kind=Sender.Kind.ALPHANUMERIC)
    return {
        "main_folders": MAIN_FOLDERS,
        "number_folders": [
            Folder(f"number:{s.pk}", s.label or s.value, "telephone", hint=s.value)
            for s in numbers.order_by("label", "value")
        ],
        "label_folders": [
            Folder(f"label:{label.pk}", label.name, "circle-fill", color=label.color)
            for label in Label.objects.all()
        ],
        "keyword_folders": [Folder(f"keyword:{k}", k, "key") for k in keywords],
    }


def folder_sections(sidebar: dict) -> list[tuple[str, list[Folder]]]:
    return [
        ("Numbers", sidebar["number_folders"]),
        ("Labels", sidebar["label_folders"]),
        ("Keywords", sidebar["keyword_folders"]),
    ]


def folder_counts(user) -> dict[str, int]:
    """Unread badges: open conversations with texts nobody has opened yet (one
    query on conversation_unread_idx), and how many are snoozed."""
    unread = Conversation.objects.filter(status=S.OPEN, unread_count__gt=0).aggregate(
        mine=Count("id", filter=Q(assignee=user)),
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        all=Count("id"),
    )
    return {**unread, "snoozed": Conversation.objects.filter(status=S.SNOOZED).count()}


def cursor_of(conversation: Conversation) -> str:
    micros = int(conversation.last_message_at.timestamp() * 1_000_000)
    return f"{micros}_{conversation.pk}"


def parse_cursor(text: str) -> tuple[datetime, int] | None:
    micros, _, pk = text.partition("_")
    if not (micros.isdigit() and pk.isdigit()):
        return None
    return datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC), int(pk)


def for_reader(conversations: QuerySet[Conversation], user) -> QuerySet[Conversation]:
    """Rows for the list, each with this user's read position (one index probe per row)."""
    seen = ConversationRead.objects.filter(conversation=OuterRef("pk"), user=user).values(
        "seen_inbound_count"
    )[:1]
    return (
        conversations.select_related("contact", "assignee", "sender")
        .prefetch_related("labels")
        .annotate(seen=Coalesce(Subquery(seen, output_field=IntegerField()), 0))
        .annotate(my_unread=F("inbound_count") - F("seen"))
    )


def conversation_page(
    conversations: QuerySet[Conversation], user, before: str = ""
) -> tuple[list[Conversation], str]:
    """One keyset page, newest first, and the cursor of the next page ('' at the end)."""
    rows = conversations.order_by("-last_message_at", "-id")
    cursor = parse_cursor(before) if before else None
    if cursor:
        at, pk = cursor
        rows = rows.filter(Q(last_message_at__lt=at) | Q(last_message_at=at, id__lt=pk))
    page = list(for_reader(rows, user)[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    return page, (cursor_of(page[-1]) if more and page else "")


def changed_since(
    key: str, user, since: datetime, limit: int = 100
) -> tuple[list[Conversation], list[int]]:
    """For the live list: conversations changed since the cursor that belong in this
    folder (rendered) and those that left it (removed)."""
    changed = list(
        Conversation.objects.filter(changed_at__gt=since)
        .order_by("changed_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not changed:
        return [], []
    inside = list(
        for_reader(folder_conversations(key, user).filter(pk__in=changed), user).order_by(
            "-last_message_at", "-id"
        )
    )
    kept = {c.pk for c in inside}
    return inside, [pk for pk in changed if pk not in kept]


# --- the thread ---


@dataclass
class ThreadItem:
    kind: str  # "in", "out", "note", "event"
    at: datetime
    pk: int
    obj: object
    sort_key: str = ""
    author: str = ""
    campaign: str = ""
    pending: bool = False

    def __post_init__(self) -> None:
        micros = int(self.at.timestamp() * 1_000_000)
        rank = 0 if self.kind in ("in", "out") else 1
        self.sort_key = f"{micros:017d}{rank}{self.pk:012d}"

    @property
    def dom_id(self) -> str:
        return f"{'msg' if self.kind in ('in', 'out') else 'act'}-{self.pk}"


def thread_messages(conversation: Conversation) -> QuerySet[Message]:
    """Every text between the two numbers, both ways (campaign messages too): the
    by-number indexes on messaging_message serve it."""
    contact, platform = conversation.contact_number, conversation.platform_number
    return Message.objects.filter(
        Q(direction=Direction.INBOUND, from_number=contact, to_number=platform)
        | Q(direction=Direction.OUTBOUND, to_number=contact, from_number=platform)
    )


def _campaign_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    from campaigns.models import Campaign  # the inbox reads campaigns, never the reverse

    return dict(Campaign.objects.filter(pk__in=ids).values_list("pk", "name"))


def message_items(messages: list[Message]) -> list[ThreadItem]:
    outbound = [m.pk for m in messages if m.direction == Direction.OUTBOUND]
    authors = {
        r.message_id: (r.author.get_full_name() or r.author.get_username()) if r.author else ""
        for r in Reply.objects.filter(message_id__in=outbound).select_related("author")
    }
    automatic = {
        a.message_id: a.rule.name if a.rule else "a rule"
        for a in AutoReply.objects.filter(message_id__in=outbound).select_related("rule")
    }
    campaigns = _campaign_names({m.campaign_id for m in messages if m.campaign_id})
    items = []
    for m in messages:
        item = ThreadItem(m.direction, m.created_at, m.pk, m)
        if m.direction == Direction.OUTBOUND:
            item.pending = STATUS_RANK.get(m.status, 3) < 3
            if m.pk in authors:
                item.author = authors[m.pk]
            elif m.pk in automatic:
                item.author = f"Auto-reply · {automatic[m.pk]}"
            elif m.campaign_id:
                item.campaign = campaigns.get(m.campaign_id, f"Campaign {m.campaign_id}")
            elif m.compliance:
                item.author = "Opt-out confirmation"
            else:
                item.author = "Sent from the platform"
        items.append(item)
    return items


def activity_items(activities: list[Activity]) -> list[ThreadItem]:
    items = []
    for a in activities:
        item = ThreadItem(
            "note" if a.kind == Activity.Kind.NOTE else "event", a.created_at, a.pk, a
        )
        if a.actor:
            item.author = a.actor.get_full_name() or a.actor.get_username()
        items.append(item)
    return items


@dataclass
class Thread:
    items: list[ThreadItem] = field(default_factory=list)
    earlier: str = ""  # cursor of older messages, '' when the start is shown


def thread(conversation: Conversation, before: str = "") -> Thread:
    messages = thread_messages(conversation).order_by("-created_at", "-id")
    cursor = parse_cursor(before) if before else None
    if cursor:
        at, pk = cursor
        messages = messages.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    page = list(messages[: THREAD_SIZE + 1])
    more = len(page) > THREAD_SIZE
    page = list(reversed(page[:THREAD_SIZE]))
    activities = Activity.objects.filter(conversation=conversation).select_related("actor")
    if more and page:
        activities = activities.filter(created_at__gte=page[0].created_at)
    if cursor:
        activities = activities.filter(created_at__lt=cursor[0])
    items = message_items(page) + activity_items(list(activities.order_by("-created_at")[:200]))
    items.sort(key=lambda i: i.sort_key)
    earlier = ""
    if more and page:
        micros = int(page[0].created_at.timestamp() * 1_000_000)
        earlier = f"{micros}_{page[0].pk}"
    return Thread(items=items, earlier=earlier)


# Late commits: a row written in a transaction that began before the last poll.
POLL_OVERLAP = timedelta(seconds=5)


def thread_since(
    conversation: Conversation, since: datetime, pending: dict[int, str]
) -> list[ThreadItem]:
    """For the live thread: items since the cursor (with an overlap for late
    commits; the page replaces items it already has) and messages whose status
    moved on since the page last saw them."""
    start = since - POLL_OVERLAP
    fresh = list(thread_messages(conversation).filter(created_at__gt=start).order_by("created_at"))
    seen = {m.pk for m in fresh}
    moved = [
        m
        for m in Message.objects.filter(pk__in=[pk for pk in pending if pk not in seen])
        if pending.get(m.pk) != m.status
        and m.to_number == conversation.contact_number
        and m.from_number == conversation.platform_number
    ]
    activities = Activity.objects.filter(conversation=conversation, created_at__gt=start)
    items = message_items(fresh + moved) + activity_items(list(activities.select_related("actor")))
    items.sort(key=lambda i: i.sort_key)
    return items


def inbox_users() -> QuerySet:
    """Users who can work the inbox (assignees)."""
    user_model = get_user_model()
    return (
        user_model.objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(
                groups__permissions__codename="inbox_use",
                groups__permissions__content_type__app_label="smsworks",
            )
        )
        .distinct()
        .order_by("first_name", "username")
    )
