"""The one permission helper every view uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from smsworks.roles import ALL, Role


def can(user, capability: str) -> bool:
    if capability not in ALL:
        raise ValueError(f"unknown capability {capability!r}")
    return user.is_authenticated and user.is_active and user.has_perm(f"smsworks.{capability}")


def require(*capabilities: str) -> Callable:
    """Decorate a view: anonymous users go to the login page; a signed-in user
    without every named capability gets the 403 page."""
    for capability in capabilities:
        if capability not in ALL:
            raise ValueError(f"unknown capability {capability!r}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not all(can(request.user, c) for c in capabilities):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator


def role_of(user) -> str | None:
    """The user's role name, or None. Superusers count as Admin."""
    if user.is_superuser:
        return Role.ADMIN.value
    names = {g.name for g in user.groups.all()}
    for role in Role:
        if role.value in names:
            return role.value
    return None
