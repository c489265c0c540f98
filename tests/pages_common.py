"""Expected statuses by role, shared by tests/test_pages.py and tests/pages_<area>.py.

A ``pages_<area>.py`` module holds ``PAGES``: rows of (url name, kwargs builder
taking the ``world`` dict or None, expected status by role); optionally
``PUBLIC``: URL names reached without a session because they prove themselves
another way (a signature, an API key), each tested where it lives.
"""

OK, DENIED, LOGIN = 200, 403, "login"
EVERYONE = {"admin": OK, "marketer": OK, "support": OK}
ADMIN_ONLY = {"admin": OK, "marketer": DENIED, "support": DENIED}
ADMIN_AND_MARKETER = {"admin": OK, "marketer": OK, "support": DENIED}
POST_ONLY = {"admin": 405, "marketer": 405, "support": 405}
ADMIN_AND_SUPPORT = {"admin": OK, "marketer": DENIED, "support": OK}
POST_ONLY_MANAGERS = {"admin": 405, "marketer": 405, "support": DENIED}
POST_ONLY_ADMIN = {"admin": 405, "marketer": DENIED, "support": DENIED}
