from django import forms

from api.models import Scope


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="Who or what uses it, e.g. 'CRM reminders' or 'Shop'."
    )
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Give a key only what its system needs.",
    )
    rate_limit = forms.IntegerField(
        min_value=1,
        max_value=1_000_000,
        initial=6000,
        label="Rate limit",
        help_text="Requests per minute for this key.",
    )
