"""Writes about users and roles."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import transaction

from smsworks.roles import Role


def _set_role(user: User, role: str) -> None:
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}.")
    user.groups.remove(*Group.objects.filter(name__in=Role.values))
    user.groups.add(Group.objects.get(name=role))


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> User:
    user = User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    _set_role(user, role)
    return user


@transaction.atomic
def user_update(
    *,
    user: User,
    by: User,
    role: str,
    is_active: bool,
    email: str,
    first_name: str,
    last_name: str,
) -> User:
    if user.pk == by.pk and (not is_active or role != Role.ADMIN):
        # An admin who demotes or deactivates themselves can lock everyone out.
        raise ValidationError("You cannot remove your own Admin role or deactivate yourself.")
    user.email, user.first_name, user.last_name, user.is_active = (
        email,
        first_name,
        last_name,
        is_active,
    )
    user.save(update_fields=["email", "first_name", "last_name", "is_active"])
    _set_role(user, role)
    return user


def user_set_password(*, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])
