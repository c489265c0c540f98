import pytest

from tests.browser.conftest import screenshot, sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What each role's navigation shows today; later sections add to these sets.
EXPECTED_ADMIN_MENU = {
    "admin": {
        "Users",
        "Contact fields",
        "Providers",
        "Senders",
        "Campaign settings",
        "Inbox rules",
        "Integrations",
        "Audit log",
        "System health",
    },
    "marketer": set(),
    "support": set(),
}


@pytest.mark.parametrize("role", ["admin", "marketer", "support"])
def test_each_role_signs_in_and_sees_its_navigation(page, users_by_role, role):
    user = users_by_role[role]
    sign_in(page, user.username, PASSWORD)

    main = set(page.get_by_test_id("nav-main").locator("a").all_inner_texts())
    assert "Dashboard" in {t.strip() for t in main}
    admin_menu = page.get_by_test_id("nav-admin")
    if EXPECTED_ADMIN_MENU[role]:
        page.get_by_test_id("nav-admin-toggle").click()
        items = {t.strip() for t in admin_menu.locator("a").all_inner_texts()}
        assert items == EXPECTED_ADMIN_MENU[role]
    else:
        assert admin_menu.count() == 0
    screenshot(page, f"dashboard-{role}")

    page.goto("/users/")
    if role == "admin":
        assert page.get_by_role("heading", name="Users").is_visible()
    else:
        assert page.get_by_role("heading", name="You don't have access to this page").is_visible()


def test_a_wrong_password_shows_one_clear_message(page, marketer_user):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("mia")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_text("Please enter a correct username and password").is_visible()
