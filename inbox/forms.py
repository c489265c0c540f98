"""Forms only parse and validate; the views call the services."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

from django import forms
from django.conf import settings
from django.core.validators import URLValidator, validate_email
from django.utils import timezone

from contacts import phone as phones
from contacts.models import ContactList
from inbox.models import CannedReply, Label, Rule, RuleAction
from inbox.queries import inbox_users
from inbox.rules import split_targets
from inbox.services import COMPLIANCE_WORDS
from messaging.models import Sender

MAX_REPLY = 1600
TIME_ZONES = sorted(zoneinfo.available_timezones())
WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class ReplyForm(forms.Form):
    body = forms.CharField(max_length=MAX_REPLY, strip=False)
    nonce = forms.UUIDField(required=False)

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("Write a message first.")
        return body.strip()


class NoteForm(forms.Form):
    body = forms.CharField(max_length=4000)


class AssignForm(forms.Form):
    """'me', '' (unassign) or a user id of someone who can use the inbox."""

    assignee = forms.CharField(required=False)

    def __init__(self, *args, user, **kwargs) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_assignee(self):
        value = self.cleaned_data["assignee"].strip()
        if value == "":
            return None
        if value == "me":
            value = str(self.user.pk)
        if not value.isdigit():
            raise forms.ValidationError("Choose someone from the list.")
        assignee = inbox_users().filter(pk=int(value)).first()
        if assignee is None:
            raise forms.ValidationError("That user cannot work the inbox.")
        return assignee


SNOOZE_CHOICES = [
    ("1h", "1 hour"),
    ("3h", "3 hours"),
    ("tomorrow", "Tomorrow 09:00"),
    ("monday", "Next Monday 09:00"),
    ("at", "A date and time"),
]


def snooze_until(choice: str, at: datetime | None, now: datetime | None = None) -> datetime | None:
    now = timezone.localtime(now or timezone.now())
    nine = time(9, 0)
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "3h":
        return now + timedelta(hours=3)
    if choice == "tomorrow":
        return datetime.combine(now.date() + timedelta(days=1), nine, tzinfo=now.tzinfo)
    if choice == "monday":
        days = 7 - now.weekday()
        return datetime.combine(now.date() + timedelta(days=days), nine, tzinfo=now.tzinfo)
    return at


class StatusForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("close", "Close"), ("reopen", "Reopen"), ("snooze", "Snooze")]
    )
    snooze = forms.ChoiceField(choices=SNOOZE_CHOICES, required=False)
    until = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])

    def clean(self):
        data = super().clean()
        if data.get("action") == "snooze":
            until = snooze_until(data.get("snooze") or "", data.get("until"))
            if until is None:
                raise forms.ValidationError("Choose when the conversation should come back.")
            if until <= timezone.now():
                raise forms.ValidationError("Choose a time in the future.")
            data["until_at"] = until
        return data


class LabelToggleForm(forms.Form):
    label = forms.ModelChoiceField(queryset=Label.objects.all())
    on = forms.BooleanField(required=False)


class LabelForm(forms.ModelForm):
    class Meta:
        model = Label
        fields = ["name", "color"]


class CannedReplyForm(forms.Form):
    title = forms.CharField(max_length=80)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=MAX_REPLY,
        help_text="Merge fields: {{ first_name | there }}, {{ last_name }}, {{ full_name }}.",
    )
    shared = forms.BooleanField(
        required=False, help_text="Everyone on the team can use it (Admin only)."
    )

    def __init__(self, *args, can_share: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not can_share:
            del self.fields["shared"]

    @classmethod
    def initial_for(cls, canned: CannedReply | None) -> dict:
        if canned is None:
            return {}
        return {"title": canned.title, "body": canned.body, "shared": canned.shared}


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)


# --- rules ---


class RuleForm(forms.ModelForm):
    days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        help_text="None ticked: every day.",
    )
    time_zone = forms.ChoiceField(choices=[(z, z) for z in TIME_ZONES])

    class Meta:
        model = Rule
        fields = [
            "name",
            "is_active",
            "position",
            "keyword",
            "sender",
            "days",
            "start_time",
            "end_time",
            "time_zone",
            "window",
            "reply_cooldown_hours",
            "stop_after",
        ]
        widgets = {
            "start_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "end_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        labels = {
            "is_active": "Active",
            "position": "Order",
            "sender": "Platform number",
            "window": "Match texts",
            "reply_cooldown_hours": "Auto-reply at most once per contact every (hours)",
            "stop_after": "Stop here",
        }
        help_texts = {
            "position": "Rules run from the lowest number up.",
            "reply_cooldown_hours": "0: every matching text is answered (loop guards still apply).",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sender"].queryset = Sender.objects.exclude(kind=Sender.Kind.ALPHANUMERIC)
        self.fields["sender"].empty_label = "Any of our numbers"
        if not self.instance.pk:
            self.initial.setdefault("time_zone", settings.TIME_ZONE)

    def clean_keyword(self) -> str:
        keyword = self.cleaned_data["keyword"].strip().upper()
        if keyword and any(c.isspace() for c in keyword):
            raise forms.ValidationError("A keyword is one word.")
        if keyword in COMPLIANCE_WORDS:
            raise forms.ValidationError(
                f"{keyword} is answered by the engine (opt-out, opt-in or help) and never "
                "reaches rules."
            )
        return keyword

    def clean(self):
        data = super().clean()
        if bool(data.get("start_time")) != bool(data.get("end_time")):
            raise forms.ValidationError("Give both a start and an end time, or neither.")
        return data


class RuleActionForm(forms.Form):
    kind = forms.ChoiceField(
        label="Action", choices=[("", "Choose an action…"), *RuleAction.Kind.choices]
    )
    text = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Reply text, email addresses, phone numbers or the webhook URL.",
    )
    contact_list = forms.ModelChoiceField(queryset=ContactList.objects.all(), required=False)
    opt_in = forms.BooleanField(required=False, label="Record consent (opt-in)")
    user = forms.ModelChoiceField(queryset=None, required=False)
    label = forms.ModelChoiceField(queryset=Label.objects.all(), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = inbox_users()

    def clean(self):
        data = super().clean()
        kind, text = data.get("kind"), (data.get("text") or "").strip()
        K = RuleAction.Kind
        if kind == K.AUTO_REPLY and not text:
            self.add_error("text", "Write the reply.")
        elif kind == K.ADD_TO_LIST and not data.get("contact_list"):
            self.add_error("contact_list", "Choose a list.")
        elif kind == K.ASSIGN and not data.get("user"):
            self.add_error("user", "Choose who gets the conversation.")
        elif kind == K.LABEL and not data.get("label"):
            self.add_error("label", "Choose a label.")
        elif kind == K.FORWARD_EMAIL:
            addresses = split_targets(text)
            if not addresses:
                self.add_error("text", "Give at least one email address.")
            for address in addresses:
                try:
                    validate_email(address)
                except forms.ValidationError:
                    self.add_error("text", f"{address} is not an email address.")
            data["text"] = ", ".join(addresses)
        elif kind == K.FORWARD_SMS:
            numbers = []
            for target in split_targets(text):
                try:
                    numbers.append(phones.normalize(target))
                except phones.InvalidNumber:
                    self.add_error("text", f"{target} is not a phone number.")
            if not numbers and not self.errors.get("text"):
                self.add_error("text", "Give at least one phone number.")
            data["text"] = ", ".join(numbers)
        elif kind == K.WEBHOOK:
            try:
                URLValidator(schemes=["http", "https"])(text)
            except forms.ValidationError:
                self.add_error("text", "Give an http(s) URL.")
        return data


RuleActionFormSet = forms.formset_factory(
    RuleActionForm, extra=1, can_delete=True, can_order=True, max_num=20, validate_max=True
)
