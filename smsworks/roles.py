"""Roles are Django groups; what a role may do is a set of capabilities.

A capability is a permission on the table-less ``smsworks.Capability`` model, so
views ask one question (``user.has_perm("smsworks.<capability>")``) whatever the
data behind the page. ``sync_roles`` makes the groups match this file; a data
migration runs it whenever the table below changes.
"""

from __future__ import annotations

from django.db.models import TextChoices


class Role(TextChoices):
    ADMIN = "Admin", "Admin"
    MARKETER = "Marketer", "Marketer"
    SUPPORT = "Support", "Support"


CAPABILITIES: list[tuple[str, str]] = [
    ("contacts_view", "See contacts, lists and segments"),
    ("contacts_manage", "Create, import, export and edit contacts, lists and segments"),
    ("contact_fields_manage", "Define custom contact fields"),
    ("consent_view", "See opt-outs and the consent ledger"),
    ("consent_manage", "Opt numbers out and in by hand"),
    ("campaigns_view", "See campaigns and their reports"),
    ("campaigns_manage", "Compose, schedule, pause and cancel campaigns"),
    ("campaigns_approve", "Approve campaigns when approval is required"),
    ("inbox_use", "Read, assign and answer conversations"),
    ("inbox_rules_manage", "Manage keyword rules, auto-responders and forwarding"),
    ("messages_view", "See the message log"),
    ("providers_manage", "Manage provider accounts and sender numbers"),
    ("integrations_manage", "Manage API keys and event webhooks"),
    ("users_manage", "Create users, set their role and deactivate them"),
    ("audit_view", "See the audit log and system health"),
]

ALL = frozenset(code for code, _ in CAPABILITIES)

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.ADMIN: ALL,
    Role.MARKETER: frozenset(
        {"contacts_view", "contacts_manage", "campaigns_view", "campaigns_manage", "messages_view"}
    ),
    Role.SUPPORT: frozenset({"inbox_use", "contacts_view", "consent_view"}),
}


def sync_roles(apps) -> None:
    """Create the role groups and give each exactly the capabilities listed above.

    Takes the app registry so that migrations can pass their historical models.
    """
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    content_type_model = apps.get_model("contenttypes", "ContentType")

    content_type, _ = content_type_model.objects.get_or_create(
        app_label="smsworks", model="capability"
    )
    permissions = {}
    for codename, name in CAPABILITIES:
        permission, _ = permission_model.objects.update_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        permissions[codename] = permission
    for role, capabilities in ROLE_CAPABILITIES.items():
        group, _ = group_model.objects.get_or_create(name=str(role))
        others = group.permissions.exclude(content_type=content_type)
        group.permissions.set([*others, *(permissions[c] for c in sorted(capabilities))])
