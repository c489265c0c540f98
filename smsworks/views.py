from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from audit.services import audit_record, audit_user_changes
from smsworks import services
from smsworks.forms import UserCreateForm, UserUpdateForm
from smsworks.permissions import can, require, role_of
from smsworks.roles import Role


@login_required
def dashboard(request):
    context = {"role": role_of(request.user)}
    if can(request.user, "campaigns_view"):
        from campaigns.reports import dashboard_totals, recent_campaigns

        context.update(recent_campaigns=recent_campaigns(), totals=dashboard_totals())
    return render(request, "smsworks/dashboard.html", context)


@require("users_manage")
def user_list(request):
    users = User.objects.order_by("-is_active", "username").prefetch_related(Prefetch("groups"))
    rows = [{"user": u, "role": role_of(u)} for u in users]
    return render(request, "smsworks/user_list.html", {"rows": rows})


@require("users_manage")
@require_http_methods(["GET", "POST"])
def user_create(request):
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = services.user_create(
            username=data["username"],
            password=data["password1"],
            role=data["role"],
            email=data["email"],
            first_name=data["first_name"],
            last_name=data["last_name"],
        )
        audit_record(
            action="user.created", target=user, details={"role": data["role"]}, request=request
        )
        messages.success(request, f"User {user.username} created as {data['role']}.")
        return redirect("users:list")
    return render(request, "smsworks/user_form.html", {"form": form, "title": "New user"})


@require("users_manage")
@require_http_methods(["GET", "POST"])
def user_edit(request, pk: int):
    user = get_object_or_404(User, pk=pk)
    initial = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": role_of(user) or Role.SUPPORT,
        "is_active": user.is_active,
    }
    form = UserUpdateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update(user=user, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            audit_user_changes(user=user, before=initial, after=form.cleaned_data, request=request)
            messages.success(request, f"User {user.username} saved.")
            return redirect("users:list")
    return render(
        request,
        "smsworks/user_form.html",
        {"form": form, "title": f"Edit {user.username}", "edited": user},
    )


@require("users_manage")
@require_http_methods(["GET", "POST"])
def user_set_password(request, pk: int):
    user = get_object_or_404(User, pk=pk)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_set_password(user=user, password=form.cleaned_data["new_password1"])
        audit_record(action="user.password_set", target=user, request=request)
        messages.success(request, f"Password for {user.username} changed.")
        return redirect("users:list")
    return render(
        request,
        "smsworks/user_form.html",
        {"form": form, "title": f"Set password for {user.username}", "edited": user},
    )


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_500(request):
    # Rendered without context processors: the failure may be in one of them.
    from django.http import HttpResponseServerError
    from django.template import loader

    return HttpResponseServerError(loader.get_template("500.html").render())
