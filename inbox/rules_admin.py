"""Writes to rules. A saved rule applies to the very next text: rules are read
from the database for every inbound text, never cached."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from inbox.forms import RuleForm
from inbox.models import Rule, RuleAction


@transaction.atomic
def rule_save(*, form: RuleForm, actions: list[dict], user: AbstractBaseUser) -> Rule:
    """Save a validated rule form and replace its actions, in the given order."""
    rule = form.save(commit=False)
    if rule.pk is None:
        rule.created_by = user
    rule.save()
    RuleAction.objects.filter(rule=rule).delete()
    RuleAction.objects.bulk_create(
        [
            RuleAction(
                rule=rule,
                position=position,
                kind=data["kind"],
                text=(data.get("text") or "").strip(),
                contact_list=data.get("contact_list"),
                opt_in=bool(data.get("opt_in")),
                user=data.get("user"),
                label=data.get("label"),
            )
            for position, data in enumerate(actions)
        ]
    )
    return rule


@transaction.atomic
def rule_delete(*, rule: Rule) -> None:
    rule.delete()
