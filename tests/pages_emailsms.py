"""Email-to-SMS pages (/integrations/email/) in the pages-by-role table."""

from tests.pages_common import ADMIN_ONLY, POST_ONLY_ADMIN


def _allowed(world):
    from emailsms.models import AllowedSender

    allowed, _ = AllowedSender.objects.get_or_create(
        address="ada@example.com", defaults={"sender": world["sender"]}
    )
    return {"pk": allowed.pk}


PAGES = [
    ("emailsms:index", None, ADMIN_ONLY),
    ("emailsms:allowed_create", None, ADMIN_ONLY),
    ("emailsms:allowed_edit", _allowed, ADMIN_ONLY),
    ("emailsms:allowed_delete", _allowed, POST_ONLY_ADMIN),
]
# Signed by Mailgun instead (tests/emailsms/test_mailgun.py).
PUBLIC = {"emailsms:mailgun"}
