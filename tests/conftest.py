import os

import pytest
from hypothesis import settings as hypothesis_settings

from smsworks.roles import Role
from tests.factories import user_with_role

# Property tests explore the same examples on every run: a build must not fail
# because one run happened upon an input another did not (a found bug becomes a
# plain test with that input). HYPOTHESIS_PROFILE=explore searches afresh.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
hypothesis_settings.register_profile("explore", deadline=None, max_examples=500)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
    from messaging import tasks

    tasks._kick_held_until.clear()
    if settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
        from django.core.cache import cache

        cache.clear()


@pytest.fixture(autouse=True)
def _forget_webhook_accounts():
    """The webhooks cache each provider account for a few seconds (ACCOUNT_TTL), and
    a transactional test's flush deletes accounts without the signal that clears
    it: a late receipt from an earlier test's simulator was then stored under an
    account that no longer existed, in whichever test was running. Start each test
    with an empty cache, so such a post gets the unknown account's 404."""
    from messaging import webhooks

    webhooks._accounts.clear()


@pytest.fixture
def fresh_buckets():
    """Rate buckets live in Redis across tests; sender ids repeat after a flush."""
    from django.conf import settings

    if settings.REDIS_URL:
        from messaging.ratelimit import _redis

        client, _ = _redis()
        for key in client.scan_iter(f"{settings.REDIS_KEY_PREFIX}smsworks:bucket:*"):
            client.delete(key)
