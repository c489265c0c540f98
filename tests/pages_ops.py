"""The audit log and the system health page (tests/ops/)."""

from tests.pages_common import ADMIN_ONLY

PAGES = [
    ("audit:log", None, ADMIN_ONLY),
    ("ops:system", None, ADMIN_ONLY),
]
# /health/ is for load balancers and monitors: public, and says nothing secret.
PUBLIC = {"ops:health"}
