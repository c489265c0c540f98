import pytest

from smsworks.roles import Role
from tests.factories import user_with_role


@pytest.fixture
def admin_user(db):
    return user_with_role(Role.ADMIN, username="ada")


@pytest.fixture
def marketer_user(db):
    return user_with_role(Role.MARKETER, username="mia")


@pytest.fixture
def support_user(db):
    return user_with_role(Role.SUPPORT, username="sam")


@pytest.fixture
def users_by_role(admin_user, marketer_user, support_user):
    return {"admin": admin_user, "marketer": marketer_user, "support": support_user}


@pytest.fixture(autouse=True)
def _fresh_file_cache(settings):
    """The embedded cache is a folder: empty it between tests, because SQLite reuses
    row ids after a rollback and keys like a user's hourly test-send count would
    carry over. (Redis is never cleared here: other runs share its database.)"""
    if settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
        from django.core.cache import cache

        cache.clear()
