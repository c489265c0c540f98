"""The inbox: one conversation per contact number and platform number, the team's
notes and actions on it, canned replies, and the rules that answer, route and
forward inbound texts.

Messages themselves stay in messaging.Message; a thread is read from it by the two
numbers. The conversation row carries what the lists need (last message, counters),
so no list ever aggregates over messages."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact, ContactList
from messaging.models import Sender


class Label(models.Model):
    class Color(models.TextChoices):
        GREY = "secondary", "Grey"
        BLUE = "primary", "Blue"
        GREEN = "success", "Green"
        RED = "danger", "Red"
        YELLOW = "warning", "Yellow"
        TEAL = "info", "Teal"

    name = models.CharField(max_length=40, unique=True)
    color = models.CharField(max_length=12, choices=Color.choices, default=Color.GREY)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SNOOZED = "snoozed", "Snoozed"
        CLOSED = "closed", "Closed"

    contact_number = models.CharField(max_length=20)
    platform_number = models.CharField(max_length=20)
    # Indexed by conversation_by_number_idx and conversation_by_contact_idx.
    sender = models.ForeignKey(
        Sender, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    labels = models.ManyToManyField(Label, through="ConversationLabel", related_name="+")
    # The keyword of the last rule that matched (the "by keyword" folders).
    keyword = models.CharField(max_length=40, blank=True)
    # Kept here so that the lists need no aggregate over messages.
    last_message_at = models.DateTimeField(default=timezone.now)
    last_message_id = models.BigIntegerField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=160, blank=True)
    last_message_direction = models.CharField(max_length=3, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    inbound_count = models.PositiveIntegerField(default=0)
    # Inbound texts nobody on the team has opened yet (folder badges); each user's
    # own unread state is inbound_count against their ConversationRead.
    unread_count = models.PositiveIntegerField(default=0)
    # Bumped by every change: the live list asks for rows changed since a cursor.
    changed_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact_number", "platform_number"], name="conversation_one_per_pair"
            ),
            models.CheckConstraint(
                condition=~Q(status="snoozed") | Q(snoozed_until__isnull=False),
                name="conversation_snoozed_has_until",
            ),
        ]
        indexes = [
            # Folder lists: newest first, keyset pagination on (last_message_at, id).
            models.Index(
                fields=["assignee", "-last_message_at", "-id"],
                condition=Q(status="open"),
                name="conversation_mine_idx",
            ),
            models.Index(
                fields=["-last_message_at", "-id"],
                condition=Q(status="open", assignee__isnull=True),
                name="conversation_unassigned_idx",
            ),
            models.Index(
                fields=["-last_message_at", "-id"],
                condition=Q(status="open"),
                name="conversation_open_idx",
            ),
            models.Index(
                fields=["-last_message_at", "-id"],
                condition=Q(status="snoozed"),
                name="conversation_snoozed_idx",
            ),
            models.Index(
                fields=["-last_message_at", "-id"],
                condition=Q(status="closed"),
                name="conversation_closed_idx",
            ),
            models.Index(
                fields=["sender", "-last_message_at", "-id"], name="conversation_by_number_idx"
            ),
            models.Index(
                fields=["keyword", "-last_message_at", "-id"],
                condition=~Q(keyword=""),
                name="conversation_by_keyword_idx",
            ),
            # Folder badges: open conversations with unread texts, by assignee.
            models.Index(
                fields=["assignee"],
                condition=Q(status="open", unread_count__gt=0),
                name="conversation_unread_idx",
            ),
            # Snoozes that ran out.
            models.Index(
                fields=["snoozed_until"],
                condition=Q(status="snoozed"),
                name="conversation_wake_idx",
            ),
            # The live list: rows changed since a cursor.
            models.Index(fields=["changed_at"], name="conversation_changed_idx"),
            models.Index(fields=["contact"], name="conversation_by_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_number} ↔ {self.platform_number}"

    @property
    def title(self) -> str:
        if self.contact_id and self.contact and self.contact.full_name:
            return self.contact.full_name
        return self.contact_number


class ConversationLabel(models.Model):
    # Indexed by the unique constraint and conversation_by_label_idx.
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, db_index=False)
    label = models.ForeignKey(Label, on_delete=models.CASCADE, db_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "label"], name="conversation_label_once"
            )
        ]
        indexes = [models.Index(fields=["label", "conversation"], name="conversation_by_label_idx")]

    def __str__(self) -> str:
        return f"{self.conversation_id}: {self.label_id}"


class ConversationRead(models.Model):
    """How far one user has read one conversation (per-user unread state)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seen_inbound_count = models.PositiveIntegerField(default=0)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="conversation_read_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.conversation_id} to {self.seen_inbound_count}"


class HandledInbound(models.Model):
    """The claim that makes the inbound handler idempotent: one row per message, in
    the same transaction as everything the handler wrote."""

    message_id = models.BigIntegerField(unique=True)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    handled_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"message {self.message_id}"


class Activity(models.Model):
    """What the team did in a conversation: internal notes (never sent) and events
    (assigned, closed, a rule ran), shown in the thread between the messages."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        ASSIGNED = "assigned", "Assignment"
        STATUS = "status", "Status"
        LABEL = "label", "Label"
        RULE = "rule", "Rule"
        CONSENT = "consent", "Consent"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="activity_thread_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.text[:40]}"


class Reply(models.Model):
    """Who sent an outbound message from the inbox (Message has no author), and the
    form's one-time token that makes a double-submitted reply send once."""

    message_id = models.BigIntegerField(unique=True)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    nonce = models.UUIDField(null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"reply {self.message_id}"


class CannedReply(models.Model):
    """A saved answer with merge fields. owner=None: shared with the team."""

    title = models.CharField(max_length=80)
    body = models.TextField(help_text="Merge fields: {{ first_name | there }}")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["owner", "title"], name="canned_by_owner_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def shared(self) -> bool:
        return self.owner_id is None


def _signing_secret() -> str:
    return secrets.token_urlsafe(24)


class Rule(models.Model):
    """Matches inbound texts (keyword, platform number, time window) and runs its
    actions in order. Read from the database for every text: no caching."""

    class Window(models.TextChoices):
        INSIDE = "inside", "Inside these hours"
        OUTSIDE = "outside", "Outside these hours"

    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    keyword = models.CharField(
        max_length=40, blank=True, help_text="First word of the text, any case. Empty: any text."
    )
    sender = models.ForeignKey(
        Sender,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty: texts to any of your numbers.",
    )
    # Weekdays (0 = Monday); empty: every day.
    days = models.JSONField(default=list, blank=True)
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    window = models.CharField(max_length=8, choices=Window.choices, default=Window.INSIDE)
    # Auto-replies of this rule reach one contact at most once in this many hours.
    reply_cooldown_hours = models.PositiveSmallIntegerField(default=0)
    stop_after = models.BooleanField(
        default=False, help_text="When this rule matches, later rules are not tried."
    )
    signing_secret = models.CharField(max_length=64, default=_signing_secret)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            models.Index(
                fields=["position", "id"], condition=Q(is_active=True), name="rule_active_idx"
            )
        ]

    def __str__(self) -> str:
        return self.name


class RuleAction(models.Model):
    class Kind(models.TextChoices):
        AUTO_REPLY = "auto_reply", "Auto-reply"
        ADD_TO_LIST = "add_to_list", "Add to a list"
        ASSIGN = "assign", "Assign to a user"
        LABEL = "label", "Add a label"
        FORWARD_EMAIL = "forward_email", "Forward to email"
        FORWARD_SMS = "forward_sms", "Forward by SMS"
        WEBHOOK = "webhook", "Call a webhook"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="actions")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The reply body, the email addresses, the phone numbers or the webhook URL.
    text = models.TextField(blank=True)
    contact_list = models.ForeignKey(
        ContactList, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    opt_in = models.BooleanField(default=False, help_text="Record consent (a JOIN keyword).")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    label = models.ForeignKey(
        Label, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.get_kind_display()


class RuleRun(models.Model):
    """One match of a rule and what each action did (the rule page's history)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs", db_index=False)
    message_id = models.BigIntegerField()
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact_number = models.CharField(max_length=20)
    text = models.TextField(blank=True)
    # [{"kind": "auto_reply", "outcome": "done" | "skipped" | "failed" | "queued", "detail": "..."}]
    results = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["rule", "-created_at"], name="rulerun_recent_idx")]

    def __str__(self) -> str:
        return f"{self.rule_id} on {self.message_id}"


class AutoReply(models.Model):
    """Every auto-reply sent, for the loop guards (cooldown, hourly cap, echo)."""

    phone = models.CharField(max_length=20)
    platform_number = models.CharField(max_length=20)
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["phone", "-created_at"], name="autoreply_by_phone_idx")]

    def __str__(self) -> str:
        return f"auto-reply to {self.phone}"


class Forward(models.Model):
    """An email or webhook forward: an outbox row, so a mail server or endpoint that
    is down delays the text but never loses it (retried with backoff)."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Delivered"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    run = models.ForeignKey(
        RuleRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="forwards"
    )
    message_id = models.BigIntegerField()
    target = models.TextField(help_text="Email addresses (comma-separated) or the URL.")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="forward_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.target} ({self.status})"
