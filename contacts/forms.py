import zoneinfo

from django import forms

from contacts import phone as phones
from contacts.models import Contact, ContactList, CustomField
from contacts.services import custom_value

TIME_ZONES = sorted(zoneinfo.available_timezones())


class ContactForm(forms.Form):
    phone = forms.CharField(
        max_length=40, help_text="Any format: 07912 345678, +44 7912 345678 ..."
    )
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    time_zone = forms.ChoiceField(
        choices=[("", "From the number")] + [(z, z) for z in TIME_ZONES], required=False
    )

    def __init__(self, *args, contact: Contact | None = None, **kwargs) -> None:
        self.contact = contact
        super().__init__(*args, **kwargs)
        self.custom_fields = list(CustomField.objects.all())
        for field in self.custom_fields:
            name = f"custom_{field.key}"
            if field.kind == CustomField.Kind.CHOICE:
                self.fields[name] = forms.ChoiceField(
                    label=field.label,
                    required=False,
                    choices=[("", "—")] + [(c, c) for c in field.choices],
                )
            elif field.kind == CustomField.Kind.BOOLEAN:
                self.fields[name] = forms.NullBooleanField(label=field.label, required=False)
            elif field.kind == CustomField.Kind.DATE:
                self.fields[name] = forms.CharField(
                    label=field.label,
                    required=False,
                    widget=forms.DateInput(attrs={"type": "date"}),
                )
            else:
                self.fields[name] = forms.CharField(
                    label=field.label, required=False, max_length=500
                )
            if contact is not None and field.key in contact.custom:
                self.initial[name] = contact.custom[field.key]

    def clean_phone(self) -> str:
        try:
            number = phones.normalize(self.cleaned_data["phone"])
        except phones.InvalidNumber as exc:
            raise forms.ValidationError(f"This is {exc}.") from exc
        clash = Contact.objects.filter(phone=number)
        if self.contact is not None:
            clash = clash.exclude(pk=self.contact.pk)
        if clash.exists():
            raise forms.ValidationError("Another contact already has this number.")
        return number

    def clean(self):
        cleaned = super().clean()
        custom = {}
        for field in self.custom_fields:
            raw = cleaned.get(f"custom_{field.key}")
            try:
                custom[field.key] = custom_value(field, raw) if raw is not None else None
            except forms.ValidationError as exc:
                self.add_error(f"custom_{field.key}", exc)
        cleaned["custom"] = custom
        return cleaned


class ContactFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=100)
    contact_list = forms.ModelChoiceField(
        ContactList.objects.all(),
        required=False,
        empty_label="Any list",
        label="List",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    consent = forms.ChoiceField(
        choices=[("", "Any consent"), ("subscribed", "Subscribed"), ("opted_out", "Opted out")],
        required=False,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    country = forms.CharField(required=False, max_length=2)


class BulkActionForm(forms.Form):
    ACTIONS = [("add_to_list", "Add to list"), ("opt_out", "Opt out"), ("delete", "Delete")]
    action = forms.ChoiceField(choices=ACTIONS)
    ids = forms.CharField(widget=forms.HiddenInput)
    contact_list = forms.ModelChoiceField(ContactList.objects.all(), required=False)

    def clean_ids(self) -> list[int]:
        try:
            ids = [int(x) for x in self.cleaned_data["ids"].split(",") if x.strip()]
        except ValueError:
            raise forms.ValidationError("Bad selection.") from None
        if not ids:
            raise forms.ValidationError("Select at least one contact.")
        return ids[:10_000]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "add_to_list" and not cleaned.get("contact_list"):
            self.add_error("contact_list", "Choose a list.")
        return cleaned


class CustomFieldForm(forms.ModelForm):
    choices_text = forms.CharField(
        required=False,
        label="Choices",
        help_text="For choice fields: one per line.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    class Meta:
        model = CustomField
        fields = ["label", "key", "kind"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["key"].disabled = True  # stored values and merge fields use it
            self.initial["choices_text"] = "\n".join(self.instance.choices)

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        if key in {"phone", "first_name", "last_name", "email", "time_zone", "country", "source"}:
            raise forms.ValidationError("That key is a standard contact field.")
        return key

    def clean(self):
        cleaned = super().clean()
        choices = [c.strip() for c in cleaned.get("choices_text", "").splitlines() if c.strip()]
        if cleaned.get("kind") == CustomField.Kind.CHOICE and not choices:
            self.add_error("choices_text", "A choice field needs at least one choice.")
        self.instance.choices = choices if cleaned.get("kind") == CustomField.Kind.CHOICE else []
        return cleaned


class ManualOptOutForm(forms.Form):
    phone = forms.CharField(max_length=40)
    note = forms.CharField(required=False, max_length=500, help_text="Why, for the record.")

    def clean_phone(self) -> str:
        try:
            return phones.normalize(self.cleaned_data["phone"])
        except phones.InvalidNumber as exc:
            raise forms.ValidationError(f"This is {exc}.") from exc


class ManualOptInForm(ManualOptOutForm):
    note = forms.CharField(
        max_length=500,
        label="Reason",
        help_text="Required: how the person gave consent again (kept in the ledger).",
    )
