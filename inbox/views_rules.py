"""Rules (keywords, auto-responders, routing, forwarding) and labels: Admin only."""

from __future__ import annotations

from django.contrib import messages as flash
from django.db.models import Count, Max
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from inbox.forms import LabelForm, RuleActionFormSet, RuleForm
from inbox.models import Label, Rule, RuleAction, RuleRun
from inbox.rules import DEFAULT_OFFICE_END, DEFAULT_OFFICE_START, describe_window
from inbox.rules_admin import rule_delete, rule_save
from smsworks.permissions import require

PRESETS = {
    "out_of_hours": {
        "rule": {
            "name": "Out-of-hours auto-reply",
            "days": [0, 1, 2, 3, 4],
            "start_time": DEFAULT_OFFICE_START,
            "end_time": DEFAULT_OFFICE_END,
            "window": Rule.Window.OUTSIDE,
            "reply_cooldown_hours": 12,
        },
        "actions": [
            {
                "kind": RuleAction.Kind.AUTO_REPLY,
                "text": "Hi {{ first_name | there }}, thanks for your message. We're closed now "
                "and will reply when we open (Mon-Fri 09:00-17:30).",
            }
        ],
    },
    "on_call": {
        "rule": {"name": "Forward to on-call at night", "start_time": "18:00", "end_time": "08:00"},
        "actions": [{"kind": RuleAction.Kind.FORWARD_SMS, "text": ""}],
    },
    "join": {
        "rule": {"name": "JOIN keyword", "keyword": "JOIN"},
        "actions": [
            {"kind": RuleAction.Kind.ADD_TO_LIST, "opt_in": True},
            {
                "kind": RuleAction.Kind.AUTO_REPLY,
                "text": "Thanks for joining! Reply STOP to unsubscribe.",
            },
        ],
    },
}


@require("inbox_rules_manage")
def rule_list(request):
    rules = list(
        Rule.objects.select_related("sender")
        .prefetch_related("actions")
        .annotate(run_count=Count("runs"), last_run=Max("runs__created_at"))
        .order_by("position", "id")
    )
    for rule in rules:
        rule.window_text = describe_window(rule)
    return render(request, "inbox/rule_list.html", {"rules": rules})


def _action_initial(rule: Rule) -> list[dict]:
    return [
        {
            "kind": a.kind,
            "text": a.text,
            "contact_list": a.contact_list_id,
            "opt_in": a.opt_in,
            "user": a.user_id,
            "label": a.label_id,
        }
        for a in rule.actions.all()
    ]


@require("inbox_rules_manage")
@require_http_methods(["GET", "POST"])
def rule_edit(request, pk: int | None = None):
    rule = get_object_or_404(Rule, pk=pk) if pk else None
    preset = PRESETS.get(request.GET.get("preset", "")) if rule is None else None
    if request.method == "POST":
        form = RuleForm(request.POST, instance=rule)
        actions = RuleActionFormSet(request.POST, prefix="actions")
        if form.is_valid() and actions.is_valid():
            kept = [f.cleaned_data for f in actions.ordered_forms if f.cleaned_data.get("kind")]
            saved = rule_save(form=form, actions=kept, user=request.user)
            flash.success(request, f"Rule “{saved.name}” saved. It applies to the next text.")
            return redirect("inbox:rule_detail", pk=saved.pk)
    else:
        form = RuleForm(instance=rule, initial=preset["rule"] if preset else None)
        if rule is not None:
            initial = _action_initial(rule)
        else:
            initial = preset["actions"] if preset else []
        actions = RuleActionFormSet(prefix="actions", initial=initial)
    return render(request, "inbox/rule_form.html", {"form": form, "actions": actions, "rule": rule})


@require("inbox_rules_manage")
def rule_detail(request, pk: int):
    rule = get_object_or_404(Rule.objects.select_related("sender"), pk=pk)
    runs = list(
        RuleRun.objects.filter(rule=rule)
        .select_related("conversation")
        .prefetch_related("forwards")
        .order_by("-created_at", "-id")[:50]
    )
    return render(
        request,
        "inbox/rule_detail.html",
        {
            "rule": rule,
            "window_text": describe_window(rule),
            "actions": rule.actions.select_related("contact_list", "user", "label"),
            "runs": runs,
        },
    )


@require("inbox_rules_manage")
@require_POST
def rule_remove(request, pk: int):
    rule = get_object_or_404(Rule, pk=pk)
    rule_delete(rule=rule)
    flash.success(request, f"Rule “{rule.name}” deleted.")
    return redirect("inbox:rules")


@require("inbox_rules_manage")
@require_http_methods(["GET", "POST"])
def label_list(request):
    form = LabelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        label = form.save()
        flash.success(request, f"Label {label.name} created.")
        return redirect("inbox:labels")
    labels = Label.objects.annotate(conversation_count=Count("conversationlabel"))
    return render(request, "inbox/label_list.html", {"form": form, "labels": labels})


@require("inbox_rules_manage")
@require_POST
def label_delete(request, pk: int):
    label = get_object_or_404(Label, pk=pk)
    label.delete()
    flash.success(request, f"Label {label.name} deleted.")
    return redirect("inbox:labels")
