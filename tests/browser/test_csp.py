"""The strict Content-Security-Policy breaks no page: no violation on the main pages,
and the behaviour moved out of inline handlers (data-confirm, ...) still works."""

import pytest
from django.urls import reverse

from audit.services import audit_record
from inbox.models import Label
from tests.browser.conftest import screenshot, sign_in
from tests.factories import PASSWORD, CampaignFactory, ContactListFactory, SenderFactory
from tests.processes import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs before any page script: records every violation the browser reports.
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def _watch(page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text
            else None
        ),
    )
    page.add_init_script(WATCH)
    return errors


def test_main_pages_load_without_csp_violations(page, admin_user):
    sender = SenderFactory()
    campaign = CampaignFactory(sender=sender)
    the_list = ContactListFactory()
    audit_record(actor=admin_user, action="campaign.paused", target=campaign, details={"held": 3})
    audit_record(actor=None, action="campaign.launched", target=campaign, details={"new_rows": 3})
    errors = _watch(page)
    sign_in(page, admin_user.username, PASSWORD)
    urls = [
        reverse("dashboard"),
        reverse("contacts:list"),
        reverse("contacts:lists"),
        reverse("contacts:list_detail", kwargs={"pk": the_list.pk}),
        reverse("contacts:segment_create"),
        reverse("campaigns:list"),
        reverse("campaigns:create"),
        reverse("campaigns:report", kwargs={"pk": campaign.pk}),
        reverse("inbox:index"),
        reverse("inbox:rule_create"),
        reverse("messaging:provider_create"),
        reverse("messaging:sender_test", kwargs={"pk": sender.pk}),
        reverse("messaging:log"),
        reverse("users:list"),
        reverse("audit:log"),
        reverse("ops:system"),
    ]
    seen = {}
    for url in urls:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        seen[url] = page.evaluate("window.__cspViolations")
        if url == reverse("audit:log"):
            screenshot(page, "audit-log")
    screenshot(page, "ops-system")
    assert {url: v for url, v in seen.items() if v} == {}
    assert errors == []


def test_data_confirm_asks_before_a_delete(page, admin_user):
    label = Label.objects.create(name="Temporary")
    errors = _watch(page)
    sign_in(page, admin_user.username, PASSWORD)
    page.goto(reverse("inbox:labels"))
    form = page.locator(f"form[action='{reverse('inbox:label_delete', kwargs={'pk': label.pk})}']")

    page.once("dialog", lambda dialog: dialog.dismiss())
    form.get_by_role("button", name="Delete").click()
    page.wait_for_timeout(300)  # a dismissed confirm submits nothing; give it a moment
    assert Label.objects.filter(pk=label.pk).exists()

    page.once("dialog", lambda dialog: dialog.accept())
    form.get_by_role("button", name="Delete").click()
    wait_for(
        lambda: not Label.objects.filter(pk=label.pk).exists(),
        timeout=30,
        what="the confirmed delete",
    )
    assert errors == []
