import pytest
from django.urls import reverse
from playwright.sync_api import expect

from contacts.models import ContactList, CustomField, Segment
from tests.browser.conftest import screenshot, sign_in
from tests.factories import PASSWORD, ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def audience():
    CustomField.objects.create(key="plan", label="Plan", kind="choice", choices=["free", "pro"])
    names = [
        "Ada Lovelace",
        "Alan Turing",
        "Tim Berners-Lee",
        "Karen Jones",
        "Sophie Wilson",
        "Steve Furber",
    ]
    for n, name in enumerate(names):
        first, last = name.split(" ", 1)
        ContactFactory(
            first_name=first,
            last_name=last,
            country="GB",
            custom={"plan": "pro" if n < 3 else "free"},
        )
    for first in ["Grace", "Katherine", "Margaret"]:
        ContactFactory(first_name=first, country="US", custom={"plan": "free"})
    ContactFactory(first_name="Radia", country="US", custom={"plan": "pro"})
    ContactList.objects.create(name="Newsletter")


def test_a_marketer_builds_a_segment_watching_the_live_count(page, marketer_user, audience):
    sign_in(page, marketer_user.username, PASSWORD)
    page.goto(reverse("contacts:segment_create"))
    expect(page.get_by_test_id("segment-problems")).to_contain_text("Rule 1: Enter a value.")
    screenshot(page, "segment-editor-start")

    rows = page.get_by_test_id("rule-row")
    count = page.get_by_test_id("segment-count")
    rows.nth(0).locator("[data-rule-field]").select_option("country")
    expect(rows.nth(0).locator("[data-rule-op] option")).to_have_text(
        ["is", "is not", "is unknown"]
    )
    rows.nth(0).locator("[data-rule-value] input").fill("gb")
    expect(count).to_have_text("6")

    page.get_by_role("button", name="Add rule").click()
    rows.nth(1).locator("[data-rule-field]").select_option("custom.plan")
    rows.nth(1).locator("[data-rule-value] select").select_option("pro")
    expect(count).to_have_text("3")
    expect(page.get_by_test_id("segment-sample").locator("li")).to_have_count(3)

    page.get_by_label("Any rule (OR)").check()
    expect(count).to_have_text("7")
    page.get_by_label("All rules (AND)").check()
    expect(count).to_have_text("3")

    page.get_by_label("Name").fill("GB pros")
    screenshot(page, "segment-editor")
    page.get_by_role("button", name="Save segment").click()

    expect(page.get_by_role("heading", name="GB pros")).to_be_visible()
    expect(page.get_by_test_id("segment-count")).to_have_text("3")
    segment = Segment.objects.get()
    assert (segment.match, segment.rules) == (
        "all",
        [
            {"field": "country", "op": "equals", "value": "GB"},
            {"field": "custom.plan", "op": "equals", "value": "pro"},
        ],
    )
    screenshot(page, "segment-detail")

    page.goto(reverse("contacts:segment_edit", args=[segment.pk]))
    expect(rows).to_have_count(2)
    expect(rows.nth(1).locator("[data-rule-value] select")).to_have_value("pro")
    expect(count).to_have_text("3")
    rows.nth(1).locator("[data-rule-remove]").click()
    expect(count).to_have_text("6")

    page.goto(reverse("contacts:segments"))
    expect(page.get_by_test_id("segment-count")).to_have_text("3")
    screenshot(page, "segment-list")


def test_a_marketer_creates_a_list_and_removes_a_member(page, marketer_user, audience):
    from contacts.lists import list_add_contacts
    from contacts.models import Contact

    sign_in(page, marketer_user.username, PASSWORD)
    page.goto(reverse("contacts:lists"))
    page.get_by_role("link", name="New list").click()
    page.get_by_label("Name").fill("Spring launch")
    page.get_by_label("Description").fill("Early-access customers")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Spring launch")).to_be_visible()

    spring = ContactList.objects.get(name="Spring launch")
    list_add_contacts(
        contact_list=spring,
        contact_ids=Contact.objects.filter(country="GB").values_list("id", flat=True),
    )
    page.reload()
    expect(page.get_by_test_id("member-count")).to_have_text("6")
    page.get_by_label("Select Ada Lovelace").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove from list").click()
    expect(page.get_by_text("Removed 1 contact(s) from Spring launch.")).to_be_visible()
    expect(page.get_by_test_id("member-count")).to_have_text("5")
    screenshot(page, "list-detail")

    page.goto(reverse("contacts:lists"))
    expect(page.get_by_test_id("lists").get_by_test_id("member-count")).to_have_text(["0", "5"])
    screenshot(page, "list-index")
