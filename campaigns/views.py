"""Campaign pages: list, compose (with its live estimate and test send), detail with
its controls, approval, and the campaign settings."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_http_methods, require_POST

from audit.services import audit_record
from campaigns import compose, reports, services
from campaigns.forms import CampaignForm, CampaignSettingsForm
from campaigns.models import Campaign, CampaignSettings
from messaging import merge
from messaging.models import Message, Status
from messaging.services import SendRefused, message_send
from smsworks.permissions import can, require

PAGE_SIZE = 25
TEST_SENDS_PER_HOUR = 30
# A double click or a resubmitted page carries the same token: the second is ignored.
SUBMIT_TOKEN_SECONDS = 6 * 3600
CANCELLABLE = (
    Campaign.Status.DRAFT,
    Campaign.Status.PENDING_APPROVAL,
    Campaign.Status.SCHEDULED,
    Campaign.Status.RECURRING,
    *services.ACTIVE,
)


@require("campaigns_view")
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = Campaign.objects.filter(parent__isnull=True).select_related("sender")
    before = request.GET.get("before", "")
    if before.isdigit():
        campaigns = campaigns.filter(id__lt=int(before))
    page = list(campaigns.order_by("-id")[: PAGE_SIZE + 1])
    has_more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    rates = reports.campaign_rates_shared(page)
    return render(
        request,
        "campaigns/campaign_list.html",
        {
            "rows": [(c, rates.get(c.pk, compose.Rates()), compose.local_day(c)) for c in page],
            "next_before": page[-1].pk if has_more else None,
            "first_page": not before.isdigit(),
            "can_manage": can(request.user, "campaigns_manage"),
            "can_configure": can(request.user, "campaigns_approve"),
        },
    )


@require("campaigns_view")
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(
        Campaign.objects.select_related("sender", "created_by", "approved_by", "parent"), pk=pk
    )
    rules = CampaignSettings.load()
    before_launch = campaign.status in (*compose.EDITABLE, Campaign.Status.RECURRING)
    estimate = compose.campaign_estimate(campaign, with_audience=before_launch)
    runs = list(campaign.runs.order_by("-id")[:10])
    rates = compose.campaign_rates([campaign.pk, *(r.pk for r in runs)])
    manage = can(request.user, "campaigns_manage")
    return render(
        request,
        "campaigns/campaign_detail.html",
        {
            "campaign": campaign,
            "rules": rules,
            "rates": rates.get(campaign.pk, compose.Rates()),
            "runs": [(r, rates.get(r.pk, compose.Rates())) for r in runs],
            "estimate": estimate,
            "body_parts": merge.compile_body(campaign.body),
            "footer_added": campaign.opt_out_footer
            and rules.opt_out_footer
            and rules.opt_out_footer.lower() not in campaign.body.lower(),
            "local_day": compose.local_day(campaign),
            "can_edit": manage and campaign.is_editable,
            "can_pause": manage and campaign.status == Campaign.Status.SENDING,
            "can_resume": manage and campaign.status == Campaign.Status.PAUSED,
            "can_cancel": manage and campaign.status in CANCELLABLE,
            "can_review": can(request.user, "campaigns_approve")
            and campaign.status == Campaign.Status.PENDING_APPROVAL,
            "overdue": campaign.schedule in (Campaign.Schedule.AT, Campaign.Schedule.RECURRING)
            and campaign.scheduled_at is not None
            and campaign.scheduled_at <= timezone.now(),
        },
    )


@require("campaigns_manage")
@require_http_methods(["GET", "POST"])
def campaign_compose(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk) if pk else None
    if campaign is not None and not campaign.is_editable:
        flash.warning(
            request,
            f"This campaign is {campaign.get_status_display().lower()}: it can no longer be edited.",
        )
        return redirect("campaigns:detail", pk=campaign.pk)
    action = request.POST.get("action", "save")
    form = CampaignForm(
        request.POST or None,
        initial=CampaignForm.initial_for(campaign) if campaign else None,
        strict=action == "schedule",
    )
    if request.method == "POST" and form.is_valid():
        response = _submit(request, form, campaign, schedule=action == "schedule")
        if response is not None:
            return response
    rules = CampaignSettings.load()
    return render(
        request,
        "campaigns/campaign_compose.html",
        {
            "form": form,
            "campaign": campaign,
            "rules": rules,
            "fields": _merge_fields(),
            "needs_approval": rules.require_approval and not can(request.user, "campaigns_approve"),
            "time_zone": timezone.get_current_timezone_name(),
        },
    )


def _submit(
    request: HttpRequest, form: CampaignForm, campaign: Campaign | None, *, schedule: bool
) -> HttpResponse | None:
    """Save (and submit) once per form token; None when the form is to be shown again."""
    token = form.cleaned_data["submit_token"]
    key = f"campaigns:submit:{token}" if token else None
    if key and not cache.add(key, 0, SUBMIT_TOKEN_SECONDS):
        done = cache.get(key)
        flash.info(request, "That was already submitted; it was done once.")
        return redirect("campaigns:detail", pk=done) if done else redirect("campaigns:list")
    try:
        with transaction.atomic():
            saved = compose.campaign_draft_save(
                draft=form.draft(), by=request.user, campaign=campaign
            )
            if schedule:
                services.campaign_schedule(campaign=saved, by=request.user)
    except ValidationError as exc:
        if key:
            cache.delete(key)
        for problem in exc.messages:
            form.add_error(None, problem)
        return None
    except Exception:
        if key:
            cache.delete(key)  # the user may retry what failed
        raise
    if key:
        cache.set(key, saved.pk, SUBMIT_TOKEN_SECONDS)
    if not schedule:
        flash.success(request, "Draft saved.")
        return redirect("campaigns:edit", pk=saved.pk)
    submitted = saved.status == Campaign.Status.PENDING_APPROVAL
    audit_record(
        action="campaign.submitted" if submitted else "campaign.scheduled",
        target=saved,
        request=request,
    )
    flash.success(request, _scheduled_message(saved))
    return redirect("campaigns:detail", pk=saved.pk)


def _scheduled_message(campaign: Campaign) -> str:
    if campaign.status == Campaign.Status.PENDING_APPROVAL:
        return "Submitted for approval: an Admin approves it before anything is sent."
    if campaign.status == Campaign.Status.RECURRING:
        return f"Recurring campaign set up. The first run is on {_when(campaign.scheduled_at)}."
    if campaign.schedule == Campaign.Schedule.NOW:
        return "Campaign launched: messages are on their way."
    return f"Campaign scheduled for {_when(campaign.scheduled_at)}."


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "j M Y, H:i")


def _merge_fields() -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The picker: (group, [(key, label, suggested fallback)])."""
    from contacts.models import CustomField

    labels = {"first_name": "First name", "last_name": "Last name", "full_name": "Full name"}
    standard = [
        (key, labels.get(key, key.title()), "there" if key in ("first_name", "full_name") else "")
        for key in merge.STANDARD_FIELDS
    ]
    custom = [(f.key, f.label, "") for f in CustomField.objects.order_by("label")]
    return [("Contact", standard), *([("Custom fields", custom)] if custom else [])]


@require("campaigns_manage")
@require_POST
def campaign_estimate(request: HttpRequest) -> HttpResponse:
    """The live counter, recipients, cost and preview for the compose form (HTMX)."""
    form = CampaignForm(request.POST)
    form.is_valid()  # a half-filled form still has an estimate
    data = form.cleaned_data
    estimate = compose.compose_estimate(
        body=request.POST.get("body", "")[: CampaignForm.base_fields["body"].max_length],
        sender=data.get("sender"),
        lists=data.get("lists") or [],
        segments=data.get("segments") or [],
        exclude_lists=data.get("exclude_lists") or [],
        exclude_segments=data.get("exclude_segments") or [],
        opt_out_footer=bool(data.get("opt_out_footer")),
        shorten_links=bool(data.get("shorten_links")),
    )
    return render(
        request,
        "campaigns/_estimate.html",
        {
            "estimate": estimate,
            "sender": data.get("sender"),
            "link_length": compose.short_link_length(),
            "body_errors": form.errors.get("body", []),
        },
    )


@require("campaigns_manage")
@require_POST
def campaign_test_send(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    to = request.POST.get("test_to", "").strip()
    context: dict[str, object] = {"to": to}
    if not to:
        context["error"] = "Enter the number to send the test to."
    elif not data.get("sender"):
        context["error"] = "Choose a sender first."
    elif "body" in form.errors:
        context["error"] = " ".join(form.errors["body"])
    elif not data["body"].strip():
        context["error"] = "Write the message first."
    elif _test_sends_exhausted(request):
        context["error"] = (
            f"That makes more than {TEST_SENDS_PER_HOUR} test sends this hour. Try again later."
        )
    else:
        template = compose.draft_template(
            data["body"],
            shorten_links=data.get("shorten_links", False),
            opt_out_footer=data.get("opt_out_footer", False),
            footer=CampaignSettings.load().opt_out_footer,
        )
        text, contact = compose.body_for_test_send(body=data["body"], template=template, to=to)
        try:
            outcome = message_send(to=to, body=text, sender=data["sender"], contact=contact)
        except SendRefused as exc:
            context["error"] = str(exc)
        else:
            context.update(
                outcome=outcome,
                contact=contact,
                can_view_messages=can(request.user, "messages_view"),
            )
    return render(request, "campaigns/_test_send.html", context)


def _test_sends_exhausted(request: HttpRequest) -> bool:
    """Test sends go to any number with any text: a per-user hourly ceiling."""
    key = f"campaigns:test_sends:{request.user.pk}:{timezone.now():%Y%m%d%H}"
    cache.add(key, 0, 3600)
    return cache.incr(key) > TEST_SENDS_PER_HOUR


def _control(request: HttpRequest, pk: int, act, done: str, action: str = "") -> HttpResponse:
    """Run a status change; a lost race or a repeated click is a message, never a 500."""
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        result = act(campaign)
    except ValidationError as exc:
        flash.warning(request, " ".join(exc.messages))
    else:
        details = {"result": result} if isinstance(result, int | dict) else None
        audit_record(action=action, target=campaign, details=details, request=request)
        flash.success(request, done.format(result=result))
    return redirect("campaigns:detail", pk=campaign.pk)


@require("campaigns_approve")
@require_POST
def campaign_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _control(
        request,
        pk,
        lambda c: services.campaign_approve(campaign=c, by=request.user),
        "Approved. The campaign is scheduled.",
        action="campaign.approved",
    )


@require("campaigns_approve")
@require_POST
def campaign_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _control(
        request,
        pk,
        lambda c: compose.campaign_reject(campaign=c, by=request.user),
        "Sent back to draft. Its author can edit it and submit it again.",
        action="campaign.rejected",
    )


@require("campaigns_manage")
@require_POST
def campaign_pause(request: HttpRequest, pk: int) -> HttpResponse:
    return _control(
        request,
        pk,
        lambda c: services.campaign_pause(campaign=c),
        "Paused: {result} queued message(s) are held until you resume.",
        action="campaign.paused",
    )


@require("campaigns_manage")
@require_POST
def campaign_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _control(
        request,
        pk,
        lambda c: services.campaign_resume(campaign=c),
        "Resumed: {result} held message(s) are on their way again.",
        action="campaign.resumed",
    )


@require("campaigns_manage")
@require_http_methods(["GET", "POST"])
def campaign_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    if request.method == "POST":
        return _control(
            request,
            pk,
            lambda c: services.campaign_cancel(campaign=c),
            "Campaign cancelled: {result[cancelled]} queued message(s) will not be sent; "
            "{result[in_flight]} already with the provider may still arrive.",
            action="campaign.cancelled",
        )
    if campaign.status not in CANCELLABLE:
        flash.info(
            request,
            f"This campaign is {campaign.get_status_display().lower()}: there is nothing to cancel.",
        )
        return redirect("campaigns:detail", pk=campaign.pk)
    counts = (
        Message.objects.filter(campaign_id=campaign.pk, status__in=[Status.QUEUED, Status.SENDING])
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
    )
    pending = {row["status"]: row["n"] for row in counts}
    return render(
        request,
        "campaigns/campaign_confirm_cancel.html",
        {
            "campaign": campaign,
            "queued": pending.get(Status.QUEUED, 0),
            "in_flight": pending.get(Status.SENDING, 0),
        },
    )


@require("campaigns_approve")
@require_http_methods(["GET", "POST"])
def campaign_settings(request: HttpRequest) -> HttpResponse:
    rules = CampaignSettings.load()
    form = CampaignSettingsForm(request.POST or None, instance=rules)
    if request.method == "POST" and form.is_valid():
        form.save()
        flash.success(request, "Campaign settings saved.")
        return redirect("campaigns:settings")
    return render(request, "campaigns/campaign_settings.html", {"form": form})
