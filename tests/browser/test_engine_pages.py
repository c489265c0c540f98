import pytest

from messaging.models import Message
from tests.browser.conftest import screenshot, sign_in
from tests.factories import PASSWORD, SenderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_counter_shows_what_forces_ucs2_and_fixes_it(page, admin_user):
    sender = SenderFactory()
    sign_in(page, admin_user.username, PASSWORD)
    page.goto(f"/senders/{sender.pk}/test/")
    page.locator("#id_to").fill("07912 345678")
    page.locator("#id_body").fill("Hello — it’s here…")
    counter = page.get_by_test_id("segment-counter")
    counter.get_by_text("UCS-2", exact=True).wait_for()
    assert "Forced to UCS-2 by" in counter.inner_text()
    screenshot(page, "counter-ucs2")

    counter.get_by_role("button").click()
    counter.get_by_text("GSM-7", exact=True).wait_for()
    assert page.locator("#id_body").input_value() == "Hello - it's here..."

    page.get_by_role("button", name="Send test").click()
    page.get_by_test_id("message-body").wait_for()
    message = Message.objects.get()
    assert (message.to_number, message.body, message.encoding) == (
        "+447912345678",
        "Hello - it's here...",
        "GSM-7",
    )
    assert page.get_by_test_id("timeline").inner_text().startswith("Queued")
    screenshot(page, "message-detail")
