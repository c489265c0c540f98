"""The one way to write the audit log."""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from audit.models import AuditEntry

logger = logging.getLogger(__name__)


def _target_type(target: Any) -> str:
    # ProviderAccount -> provider_account, like the actions that name it.
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(target).__name__).lower()


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # Behind a reverse proxy REMOTE_ADDR is the proxy: AUDIT_CLIENT_IP_HEADER names the
    # header it sets (e.g. HTTP_X_REAL_IP). Only trust a header your proxy overwrites.
    header = getattr(settings, "AUDIT_CLIENT_IP_HEADER", "") or "REMOTE_ADDR"
    value = (request.META.get(header) or "").split(",")[0].strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def audit_record(
    *,
    actor: Any = None,
    action: str,
    target: Any = None,
    details: dict | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Write one audit entry.

    ``actor`` is a user or None (the system). ``target`` is a model instance (its
    model name, pk and str() are kept) or None. ``details`` must hold no secrets.
    When ``actor`` is None and a request with a signed-in user is given, that
    user is the actor.
    """
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    target_type = target_id = target_label = ""
    if target is not None:
        target_type = _target_type(target)
        target_id = str(getattr(target, "pk", "") or "")
        target_label = str(target)[:200]
    entry = AuditEntry.objects.create(
        actor=actor,
        actor_label=(actor.get_username() if actor is not None else "")[:150],
        action=action,
        target_type=target_type[:50],
        target_id=target_id[:64],
        target_label=target_label,
        details=_jsonable(details or {}),
        ip=_client_ip(request),
    )
    logger.info(
        "audit %s by %s on %s:%s",
        action,
        entry.actor_label or "system",
        target_type,
        target_id,
    )
    return entry


def audit_user_changes(
    *, user: Any, before: dict, after: dict, request: HttpRequest | None = None
) -> list[AuditEntry]:
    """Audit an edit of a user: a role change and (de)activation get their own entries."""
    entries = []
    if before.get("role") != after.get("role"):
        entries.append(
            audit_record(
                action="user.role_changed",
                target=user,
                details={"from": before.get("role"), "to": after.get("role")},
                request=request,
            )
        )
    if before.get("is_active") and not after.get("is_active"):
        entries.append(audit_record(action="user.deactivated", target=user, request=request))
    elif not before.get("is_active") and after.get("is_active"):
        entries.append(audit_record(action="user.reactivated", target=user, request=request))
    profile = ("email", "first_name", "last_name")
    changed = [f for f in profile if before.get(f) != after.get(f)]
    if changed:
        entries.append(
            audit_record(
                action="user.edited", target=user, details={"changed": changed}, request=request
            )
        )
    return entries
