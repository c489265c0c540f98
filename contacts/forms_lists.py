from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from contacts import segments
from contacts.models import ContactList, Segment


class ContactListForm(forms.ModelForm):
    class Meta:
        model = ContactList
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        error_messages = {"name": {"unique": "A list with this name already exists."}}


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "match"]
        widgets = {"match": forms.RadioSelect}
        labels = {"match": "Contacts must match"}
        error_messages = {"name": {"unique": "A segment with this name already exists."}}


class RuleForm(forms.Form):
    field = forms.ChoiceField(label="Field")
    op = forms.CharField(label="Operator")
    value = forms.CharField(label="Value", required=False, max_length=segments.MAX_TEXT)

    def __init__(self, *args, kinds: Mapping[str, segments.RuleKind], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = kinds
        groups: dict[str, list[tuple[str, str]]] = {}
        for kind in kinds.values():
            groups.setdefault(kind.group, []).append((kind.key, kind.label))
        self.fields["field"].choices = list(groups.items())
        self.fields["field"].widget.attrs.update({"class": "form-select", "data-rule-field": ""})

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "field" in cleaned and "op" in cleaned:
            try:
                parsed = segments.parse_rule(cleaned, kinds=self.kinds)
            except ValidationError as exc:
                self.add_error(None, exc)
            else:
                cleaned["rule"] = parsed.as_json()
        return cleaned


class BaseRuleFormSet(forms.BaseFormSet):
    def rules(self) -> list[dict[str, Any]]:
        """The checked rules, in order; call after is_valid()."""
        return [form.cleaned_data["rule"] for form in self.forms if "rule" in form.cleaned_data]


RuleFormSet = forms.formset_factory(
    RuleForm,
    formset=BaseRuleFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=50,
    validate_max=True,
)
RULES_PREFIX = "rules"


def rule_formset(
    data: Any | None, *, kinds: Mapping[str, segments.RuleKind], initial: list | None = None
) -> BaseRuleFormSet:
    return RuleFormSet(
        data,
        initial=initial,
        prefix=RULES_PREFIX,
        form_kwargs={"kinds": kinds},
        error_messages={
            "too_few_forms": "Add at least one rule.",
            "too_many_forms": "A segment can have at most %(num)d rules.",
        },
    )


def editor_schema(kinds: Mapping[str, segments.RuleKind]) -> dict[str, Any]:
    """What the rule editor's script needs: for each field its operators, the
    value input each operator takes, and the choices for choice inputs."""
    schema = {}
    for kind in kinds.values():
        needs_choices = any(op.input == "choice" for op in kind.operators.values())
        schema[kind.key] = {
            "label": kind.label,
            "operators": [[key, op.label, op.input] for key, op in kind.operators.items()],
            "choices": kind.choices() if needs_choices and kind.choices else [],
        }
    return schema
