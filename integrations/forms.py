import re

from django import forms
from django.core.exceptions import ValidationError

from integrations.models import SUBSCRIBABLE, Endpoint
from messaging.models import Sender

KEYWORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 #._-]{0,29}$")


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        help_text="Events are POSTed here as signed JSON.",
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=SUBSCRIBABLE,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events sent to this endpoint.",
    )
    is_active = forms.BooleanField(
        label="Active", required=False, initial=True, help_text="Switched off: nothing is sent."
    )

    def __init__(self, *args, endpoint: Endpoint | None = None, **kwargs) -> None:
        if endpoint is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "url": endpoint.url,
                "description": endpoint.description,
                "events": endpoint.events,
                "is_active": endpoint.is_active,
            }
        super().__init__(*args, **kwargs)
        if endpoint is None:
            del self.fields["is_active"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise ValidationError("Use an http:// or https:// address.")
        return url


class QRForm(forms.Form):
    sender = forms.ModelChoiceField(
        queryset=Sender.objects.none(),
        label="Platform number",
        help_text="The number people text. Alphanumeric sender IDs cannot receive texts.",
    )
    keyword = forms.CharField(
        max_length=30,
        initial="JOIN",
        help_text="The text the phone fills in, e.g. JOIN. Letters, digits and spaces.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sender"].queryset = (
            Sender.objects.filter(is_active=True)
            .exclude(kind=Sender.Kind.ALPHANUMERIC)
            .order_by("value")
        )

    def clean_keyword(self) -> str:
        keyword = self.cleaned_data["keyword"].strip()
        if not KEYWORD.match(keyword):
            raise ValidationError("Use letters, digits and spaces (up to 30 characters).")
        return keyword
