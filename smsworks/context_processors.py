from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from smsworks.permissions import can, role_of


@dataclass(frozen=True)
class NavItem:
    label: str
    icon: str
    url_name: str
    capability: str | None  # None: every signed-in user

    @property
    def url(self) -> str | None:
        try:
            return reverse(self.url_name)
        except NoReverseMatch:
            return None


# Sections appear here as their apps register the URL names; an item whose URL
# does not exist yet is left out rather than linking to a 404.
MAIN_NAV = [
    NavItem("Dashboard", "speedometer2", "dashboard", None),
    NavItem("Inbox", "chat-left-text", "inbox:index", "inbox_use"),
    NavItem("Campaigns", "megaphone", "campaigns:list", "campaigns_view"),
    NavItem("Contacts", "people", "contacts:list", "contacts_view"),
    NavItem("Opt-outs", "slash-circle", "contacts:optouts", "consent_view"),
    NavItem("Messages", "envelope", "messaging:log", "messages_view"),
]
ADMIN_NAV = [
    NavItem("Users", "person-gear", "users:list", "users_manage"),
    NavItem("Contact fields", "ui-checks", "contacts:fields", "contact_fields_manage"),
    NavItem("Providers", "hdd-network", "messaging:providers", "providers_manage"),
    NavItem("Senders", "telephone", "messaging:senders", "providers_manage"),
    NavItem("Campaign settings", "sliders", "campaigns:settings", "campaigns_approve"),
    NavItem("Inbox rules", "funnel", "inbox:rules", "inbox_rules_manage"),
    NavItem("Integrations", "plug", "integrations:index", "integrations_manage"),
    NavItem("Audit log", "journal-text", "audit:log", "audit_view"),
    NavItem("System health", "heart-pulse", "ops:system", "audit_view"),
]


def visible_items(user, items: list[NavItem], path: str = "") -> list[dict]:
    shown = []
    for item in items:
        if item.capability is not None and not can(user, item.capability):
            continue
        url = item.url
        if url is not None:
            active = path == url or (url != "/" and path.startswith(url))
            shown.append({"label": item.label, "icon": item.icon, "url": url, "active": active})
    return shown


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_main": visible_items(user, MAIN_NAV, request.path),
        "nav_admin": visible_items(user, ADMIN_NAV, request.path),
        "user_role": role_of(user),
    }
