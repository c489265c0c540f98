"""API key pages (Admins only); the API itself is authenticated by key
(tests/api/), its schema and documentation page are public."""

from tests.pages_common import ADMIN_ONLY


def _key(world):
    from api.keys import api_key_create

    key, _ = api_key_create(name="Pages", scopes=["read"], created_by=world["admin"])
    return {"pk": key.pk}


PAGES = [
    ("apikeys:list", None, ADMIN_ONLY),
    ("apikeys:create", None, ADMIN_ONLY),
    ("apikeys:revoke", _key, ADMIN_ONLY),
]

PUBLIC = {
    "api:messages",
    "api:messages_batch",
    "api:message_detail",
    "api:message_cancel",
    "api:contacts",
    "api:contact_opt_out",
    "api:contact_opt_in",
    "api:contact_detail",
    "api:lists",
    "api:list_detail",
    "api:list_members",
    "api:segments",
    "api:segment_detail",
    "api:campaigns",
    "api:campaign_detail",
    "api:campaign_schedule",
    "api:campaign_cancel",
    "api:campaign_report",
    "api:otp_send",
    "api:otp_verify",
    "api:schema",
    "api:docs",
}
