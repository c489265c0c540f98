from __future__ import annotations

import re
import uuid
import zoneinfo
from datetime import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.formats import date_format

from campaigns.audience import local_launch_time
from campaigns.compose import Draft, local_day, local_day_moment
from campaigns.models import Campaign, CampaignSettings
from contacts.models import ContactList, CustomField, Segment
from messaging import merge
from messaging.inbound import STOP_WORDS
from messaging.models import Sender

MAX_BODY = 1600  # ten concatenated GSM-7 segments
MAX_SPREAD_MINUTES = 24 * 60
TIME_ZONES = sorted(zoneinfo.available_timezones())
CHECKBOXES = forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
SWITCH = forms.CheckboxInput(attrs={"class": "form-check-input", "role": "switch"})


def active_senders():
    return Sender.objects.filter(is_active=True, account__is_active=True).select_related("account")


class CampaignForm(forms.Form):
    """The compose page. ``strict`` is for submitting: a draft may be unfinished, a
    submission must name its audience, its text and a time in the future."""

    name = forms.CharField(max_length=150, label="Campaign name")
    sender = forms.ModelChoiceField(
        active_senders(), empty_label=None, help_text="The number or sender ID it comes from."
    )
    lists = forms.ModelMultipleChoiceField(
        ContactList.objects.all(), required=False, widget=CHECKBOXES
    )
    segments = forms.ModelMultipleChoiceField(
        Segment.objects.all(), required=False, widget=CHECKBOXES
    )
    exclude_lists = forms.ModelMultipleChoiceField(
        ContactList.objects.all(),
        required=False,
        widget=CHECKBOXES,
        label="Leave out lists",
    )
    exclude_segments = forms.ModelMultipleChoiceField(
        Segment.objects.all(),
        required=False,
        widget=CHECKBOXES,
        label="Leave out segments",
    )
    body = forms.CharField(
        required=False,
        max_length=MAX_BODY,
        label="Message",
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "Hi {{ first_name | there }}, …"}),
    )
    opt_out_footer = forms.BooleanField(
        required=False, initial=True, label="Add the opt-out footer", widget=SWITCH
    )
    shorten_links = forms.BooleanField(
        required=False, initial=True, label="Shorten links and track clicks", widget=SWITCH
    )
    utm = forms.CharField(
        required=False,
        max_length=200,
        label="UTM parameters",
        help_text="Added to every link, e.g. utm_source=sms&utm_campaign=spring",
    )
    schedule = forms.ChoiceField(
        choices=Campaign.Schedule.choices,
        initial=Campaign.Schedule.NOW,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        label="When",
    )
    send_date = forms.DateField(
        required=False, label="Date", widget=forms.DateInput(attrs={"type": "date"})
    )
    send_time = forms.TimeField(
        required=False, label="Time", widget=forms.TimeInput(attrs={"type": "time"})
    )
    recurrence = forms.ChoiceField(
        choices=Campaign.Recurrence.choices,
        required=False,
        initial=Campaign.Recurrence.WEEKLY,
        label="Repeat",
    )
    respect_quiet_hours = forms.BooleanField(
        required=False, initial=True, label="Respect quiet hours", widget=SWITCH
    )
    spread_minutes = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_SPREAD_MINUTES,
        initial=0,
        label="Spread over (minutes)",
        help_text="0 sends as fast as the sender allows.",
    )
    submit_token = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, strict: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.strict = strict
        self.fields["sender"].queryset = active_senders()
        if not self.is_bound:
            self.initial.setdefault("submit_token", uuid.uuid4().hex)
            default = self.fields["sender"].queryset.order_by("-is_default", "id").first()
            self.initial.setdefault("sender", default)

    @classmethod
    def initial_for(cls, campaign: Campaign) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": campaign.name,
            "sender": campaign.sender_id,
            "body": campaign.body,
            "lists": list(campaign.lists.all()),
            "segments": list(campaign.segments.all()),
            "exclude_lists": list(campaign.exclude_lists.all()),
            "exclude_segments": list(campaign.exclude_segments.all()),
            "opt_out_footer": campaign.opt_out_footer,
            "shorten_links": campaign.shorten_links,
            "utm": campaign.utm,
            "schedule": campaign.schedule,
            "recurrence": campaign.recurrence or Campaign.Recurrence.WEEKLY,
            "respect_quiet_hours": campaign.respect_quiet_hours,
            "spread_minutes": campaign.spread_minutes,
        }
        if campaign.schedule == Campaign.Schedule.LOCAL:
            initial["send_date"] = local_day(campaign)
            initial["send_time"] = campaign.local_time
        elif campaign.scheduled_at and campaign.schedule != Campaign.Schedule.NOW:
            moment = timezone.localtime(campaign.scheduled_at)
            initial["send_date"] = moment.date()
            initial["send_time"] = moment.time().replace(second=0, microsecond=0)
        return initial

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        known = set(merge.STANDARD_FIELDS) | set(CustomField.objects.values_list("key", flat=True))
        problems = []
        for name in dict.fromkeys(merge.fields_in(body)):
            if name.startswith("link:"):
                problems.append(
                    f"{{{{ {name} }}}} is written for you: paste the web address itself."
                )
            elif name not in known:
                problems.append(f"There is no field {{{{ {name} }}}}: pick one from the list.")
        if problems:
            raise forms.ValidationError(problems)
        return body

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.strict:
            if not (cleaned.get("lists") or cleaned.get("segments")):
                self.add_error("lists", "Choose at least one list or segment to send to.")
            if not (cleaned.get("body") or "").strip():
                self.add_error("body", "Write the message first.")
        cleaned["scheduled_at"], cleaned["local_time"] = self._when(cleaned)
        return cleaned

    def _when(self, cleaned: dict[str, Any]) -> tuple[datetime | None, Any]:
        schedule = cleaned.get("schedule")
        day, at = cleaned.get("send_date"), cleaned.get("send_time")
        if schedule in (None, Campaign.Schedule.NOW):
            return None, None
        if self.strict:
            if not day:
                self.add_error("send_date", "Choose the day to send.")
            if not at and "send_time" not in self.errors:
                self.add_error("send_time", "Choose the time to send.")
            if schedule == Campaign.Schedule.RECURRING and not cleaned.get("recurrence"):
                self.add_error("recurrence", "Choose how often it repeats.")
        if not (day and at):
            return None, None
        now = timezone.now()
        if schedule == Campaign.Schedule.LOCAL:
            if self.strict and local_launch_time(day, at) <= now:
                self.add_error(
                    "send_date",
                    f"{date_format(day)} at {at:%H:%M} has already passed in some time zones. "
                    "Choose a later day.",
                )
            return local_day_moment(day), at
        moment = datetime.combine(day, at, tzinfo=timezone.get_current_timezone())
        if self.strict and moment <= now:
            self.add_error("send_date", "This time has passed. Choose a time in the future.")
        return moment, None

    def draft(self) -> Draft:
        data = self.cleaned_data
        schedule = data["schedule"]
        return Draft(
            name=data["name"],
            sender=data["sender"],
            body=data["body"].strip(),
            lists=list(data["lists"]),
            segments=list(data["segments"]),
            exclude_lists=list(data["exclude_lists"]),
            exclude_segments=list(data["exclude_segments"]),
            opt_out_footer=data["opt_out_footer"],
            shorten_links=data["shorten_links"],
            utm=data["utm"].strip(),
            schedule=schedule,
            scheduled_at=data["scheduled_at"],
            local_time=data["local_time"],
            recurrence=data["recurrence"] if schedule == Campaign.Schedule.RECURRING else "",
            respect_quiet_hours=data["respect_quiet_hours"],
            spread_minutes=data["spread_minutes"] or 0,
        )


class CampaignSettingsForm(forms.ModelForm):
    default_time_zone = forms.ChoiceField(
        choices=[(z, z) for z in TIME_ZONES],
        help_text="For contacts whose time zone is unknown.",
    )

    class Meta:
        model = CampaignSettings
        fields = [
            "require_approval",
            "quiet_start",
            "quiet_end",
            "default_time_zone",
            "opt_out_footer",
        ]
        labels = {
            "require_approval": "Campaigns need an Admin's approval",
            "quiet_start": "Quiet hours start",
            "quiet_end": "Quiet hours end",
            "opt_out_footer": "Opt-out footer",
        }
        help_texts = {
            "quiet_start": "In each recipient's local time. Messages due in the window wait for its end.",
            "opt_out_footer": "Added to marketing texts that do not already say it.",
        }
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def clean_opt_out_footer(self) -> str:
        footer = self.cleaned_data["opt_out_footer"].strip()
        words = set(re.findall(r"[A-Za-z]+", footer.upper()))
        if footer and not words & STOP_WORDS:
            raise forms.ValidationError(
                "Name an opt-out keyword the platform answers to, e.g. “Reply STOP to opt out”."
            )
        return footer
