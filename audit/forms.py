from __future__ import annotations

from django import forms
from django.contrib.auth.models import User

from audit.models import AuditEntry


class AuditFilterForm(forms.Form):
    actor = forms.ModelChoiceField(
        User.objects.order_by("username"), required=False, empty_label="Anyone"
    )
    system = forms.BooleanField(required=False, label="System only")
    action = forms.CharField(
        required=False,
        max_length=100,
        help_text="A prefix: campaign. matches every campaign action.",
    )
    target_type = forms.ChoiceField(required=False, choices=[])
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        types = (
            AuditEntry.objects.exclude(target_type="")
            .order_by("target_type")
            .values_list("target_type", flat=True)
            .distinct()
        )
        self.fields["target_type"].choices = [("", "Any target"), *((t, t) for t in types)]
        self.fields["action"].widget.attrs["placeholder"] = "campaign."
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "form-check-input")
            else:
                css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
                field.widget.attrs.setdefault("class", css)
