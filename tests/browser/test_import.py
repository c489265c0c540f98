"""A marketer imports a CSV in the browser: upload, choose columns, watch the progress
bar (HTMX polling) while a real Celery worker imports, and read the summary."""

import contextlib
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from contacts.models import Contact, ContactList, ImportJob
from smsworks.celery import app
from tests.browser.conftest import screenshot, sign_in
from tests.factories import PASSWORD
from tests.processes import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people_csv(tmp_path: Path) -> Path:
    lines = ["Mobile,First Name,Surname,Contact email"]
    lines += [f"07911 2{i:05d},Person{i},Example,p{i}@example.com" for i in range(20_000)]
    lines += ["020 7946 0018,Land,Line,", "07911 200001,Again,Twice,", "07911 299999,=cmd,Bad,"]
    path = tmp_path / "people.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_it_uploads_maps_and_imports_a_csv_while_the_progress_bar_runs(
    page, marketer_user, people_csv
):
    ContactList.objects.create(name="Newsletter")
    app.control.purge()
    sign_in(page, marketer_user.username, PASSWORD)
    try:
        with celery_worker():
            page.goto("/contacts/import/")
            expect(page.get_by_role("heading", name="Import contacts")).to_be_visible()
            page.get_by_label("CSV or Excel file").set_input_files(people_csv)
            page.get_by_role("button", name="Upload and choose columns").click()

            page.wait_for_url("**/map/")
            expect(page.get_by_label("Field for Mobile")).to_have_value("phone")
            expect(page.get_by_label("Field for First Name")).to_have_value("first_name")
            expect(page.get_by_label("Field for Surname")).to_have_value("last_name")
            expect(page.get_by_label("Field for Contact email")).to_have_value("")
            page.get_by_label("Field for Contact email").select_option("email")
            page.get_by_label("Newsletter").check()
            page.get_by_label("Where did these people agree to get texts?").fill("Web sign-up form")
            screenshot(page, "import-map")
            page.get_by_role("button", name="Import contacts").click()

            page.wait_for_url("**/contacts/import/*/")
            expect(page.get_by_role("progressbar", name="Import progress")).to_be_visible()
            with contextlib.suppress(PlaywrightTimeout):  # a fast import may skip this state
                page.get_by_text("Importing…").wait_for(timeout=20_000)
            screenshot(page, "import-progress")
            expect(page.get_by_test_id("import-done")).to_be_visible(timeout=90_000)

        expect(page.get_by_role("progressbar")).to_have_count(0)
        expect(page.get_by_test_id("count-created")).to_have_text("20,000")
        expect(page.get_by_test_id("count-invalid")).to_have_text("2")
        expect(page.get_by_test_id("count-duplicate")).to_have_text("1")
        expect(page.get_by_test_id("error-report")).to_contain_text("3 rows")
        screenshot(page, "import-summary")

        with page.expect_download() as download:
            page.get_by_test_id("error-report").click()
        report = Path(download.value.path()).read_text(encoding="utf-8-sig")
        assert '"20002","phone","020 7946 0018","a landline number' in report
        assert '"20003","phone","07911 200001","duplicate: the same number as line 3"' in report

        assert Contact.objects.count() == 20_000
        assert ContactList.objects.get().contacts.count() == 20_000
        assert Contact.objects.get(phone="+447911200007").email == "p7@example.com"
    finally:
        for job in ImportJob.objects.all():
            job.file.delete(save=False)
            if job.error_report:
                job.error_report.delete(save=False)
