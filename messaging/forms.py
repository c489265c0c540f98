from django import forms

from messaging.models import Backend, ProviderAccount, Sender, Status
from messaging.providers import backend_class

KEEP = "(unchanged)"


def _credential_fields() -> dict[str, tuple[str, bool, list[str]]]:
    """credential name -> (label, secret, backends that use it)."""
    fields: dict[str, tuple[str, bool, list[str]]] = {}
    for kind in Backend.values:
        cls = backend_class(kind)
        for name in cls.credential_fields:
            label, secret, kinds = fields.get(
                name, (name.replace("_", " ").capitalize(), name in cls.secret_credentials, [])
            )
            fields[name] = (label, secret or name in cls.secret_credentials, [*kinds, kind])
    return fields


class ProviderAccountForm(forms.ModelForm):
    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="API address",
        help_text="Empty: the provider's own API address. The simulator: http://127.0.0.1:9000",
    )

    class Meta:
        model = ProviderAccount
        fields = [
            "name",
            "backend",
            "base_url",
            "default_price",
            "prices",
            "timeout_seconds",
            "is_active",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        existing = self.instance.credentials if self.instance.pk else {}
        self.credential_names = []
        for name, (label, secret, kinds) in _credential_fields().items():
            field_name = f"cred_{name}"
            widget = forms.PasswordInput(render_value=False) if secret else forms.TextInput()
            field = forms.CharField(label=label, required=False, widget=widget)
            field.widget.attrs["data-backends"] = " ".join(kinds)
            if secret and existing.get(name):
                field.help_text = "Stored. Leave empty to keep it."
                field.widget.attrs["placeholder"] = "••••••••"
            elif not secret:
                field.initial = existing.get(name, "")
            self.fields[field_name] = field
            self.credential_names.append((name, secret))

    def clean(self):
        cleaned = super().clean()
        backend = cleaned.get("backend")
        if backend:
            required = backend_class(backend).credential_fields
            existing = self.instance.credentials if self.instance.pk else {}
            for name in required:
                if backend == Backend.VONAGE and name.startswith("signature"):
                    continue  # optional: signed webhooks
                if not cleaned.get(f"cred_{name}") and not existing.get(name):
                    self.add_error(f"cred_{name}", "Required for this provider.")
        return cleaned

    def save(self, commit: bool = True) -> ProviderAccount:
        account = super().save(commit=False)
        credentials = dict(account.credentials or {})
        for name, secret in self.credential_names:
            value = self.cleaned_data.get(f"cred_{name}", "").strip()
            if value:
                credentials[name] = value
            elif not secret:
                credentials.pop(name, None)
        account.credentials = credentials
        if commit:
            account.save()
        return account


class SenderForm(forms.ModelForm):
    class Meta:
        model = Sender
        fields = [
            "account",
            "kind",
            "value",
            "label",
            "messages_per_second",
            "metadata",
            "is_default",
            "is_active",
        ]
        help_texts = {
            "metadata": 'Tags carried with replies and webhooks, e.g. {"team": "support"}.'
        }

    def clean_value(self) -> str:
        from contacts import phone as phones

        value = self.cleaned_data["value"].strip()
        kind = self.cleaned_data.get("kind")
        if kind == Sender.Kind.LONG_NUMBER:
            try:
                return phones.normalize(value)
            except phones.InvalidNumber as exc:
                raise forms.ValidationError(f"Not a valid phone number: {exc}.") from exc
        if kind == Sender.Kind.SHORT_CODE and not (value.isdigit() and 3 <= len(value) <= 8):
            raise forms.ValidationError("A short code is 3 to 8 digits.")
        if kind == Sender.Kind.ALPHANUMERIC and not (
            1 <= len(value) <= 11 and value.replace(" ", "").isalnum() and not value.isdigit()
        ):
            raise forms.ValidationError("An alphanumeric sender ID is 1 to 11 letters and digits.")
        return value


class TestSendForm(forms.Form):
    to = forms.CharField(label="To", max_length=40, help_text="A mobile number.")
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1600)


class MessageFilterForm(forms.Form):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    status = forms.ChoiceField(choices=[("", "Any status"), *Status.choices], required=False)
    direction = forms.ChoiceField(
        choices=[("", "Both directions"), ("out", "Outbound"), ("in", "Inbound")], required=False
    )
    sender = forms.ModelChoiceField(Sender.objects.all(), required=False, empty_label="Any sender")
    number = forms.CharField(required=False, max_length=40)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
