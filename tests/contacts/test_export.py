"""Contact exports: formula neutralisation, scopes, streaming, the background job, roles."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts import exports, imports
from contacts.models import (
    Contact,
    ContactList,
    CustomField,
    ExportJob,
    JobStatus,
    ListMembership,
    Segment,
)
from contacts.services import contact_opt_out
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def rows_of(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+447911123456", "'+447911123456"),
        ("-5", "'-5"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("Ada", "Ada"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (True, "yes"),
        (3, "3"),
    ],
)
def test_it_neutralises_cells_a_spreadsheet_would_run(value, cell):
    assert exports.neutralise(value) == cell


def test_it_streams_a_small_export_of_all_contacts(client, marketer_user):
    CustomField.objects.create(key="plan", label="Plan")
    ContactFactory(
        phone="+447911100001",
        first_name='=HYPERLINK("x")',
        last_name="Lee",
        custom={"plan": "-gold"},
    )
    ContactFactory(phone="+447911100002", first_name="Bo", email="bo@example.com", opted_out=True)
    client.force_login(marketer_user)
    response = client.post(reverse("contacts:export"), {"scope": "all"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-all-')
    rows = rows_of(response)
    assert rows[0] == [*exports.CONTACT_COLUMNS, "plan"]
    assert rows[1][:4] == ["'+447911100001", '\'=HYPERLINK("x")', "Lee", ""]
    assert rows[1][-1] == "'-gold"
    assert rows[2][0] == "'+447911100002"
    assert rows[2][6] == "yes"
    assert len(rows) == 3


def test_every_cell_is_quoted(client, marketer_user):
    ContactFactory(phone="+447911100001", first_name="Ada")
    client.force_login(marketer_user)
    body = b"".join(client.post(reverse("contacts:export"), {"scope": "all"}).streaming_content)
    assert body.decode().splitlines()[1].startswith('"\'+447911100001","Ada",')


def test_it_exports_only_the_chosen_list(client, marketer_user):
    club = ContactList.objects.create(name="Book club")
    inside, _outside = ContactFactory(), ContactFactory()
    ListMembership.objects.create(contact_list=club, contact=inside)
    client.force_login(marketer_user)
    response = client.post(reverse("contacts:export"), {"scope": "list", "contact_list": club.pk})
    assert 'filename="contacts-list-book-club-' in response["Content-Disposition"]
    assert [r[0] for r in rows_of(response)[1:]] == ["'" + inside.phone]


def test_it_asks_for_the_list_or_segment_to_export(client, marketer_user):
    client.force_login(marketer_user)
    response = client.post(reverse("contacts:export"), {"scope": "list"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"contact_list": ["Choose the list to export."]}


def test_it_exports_a_segment(client, marketer_user):
    segments = pytest.importorskip("contacts.segments")
    assert hasattr(segments, "segment_queryset")
    ContactFactory(first_name="Ada")
    ContactFactory(first_name="Bob")
    segment = Segment.objects.create(
        name="Adas", rules=[{"field": "first_name", "op": "equals", "value": "Ada"}]
    )
    client.force_login(marketer_user)
    response = client.post(reverse("contacts:export"), {"scope": "segment", "segment": segment.pk})
    assert response.status_code == 200, response.content[:500]
    assert [r[1] for r in rows_of(response)[1:]] == ["Ada"]


def test_support_may_export_opt_outs_but_not_contacts(client, support_user):
    contact = ContactFactory(phone="+447911100001", first_name="Ada")
    contact_opt_out(phone=contact.phone, source="keyword", keyword="STOP")
    contact_opt_out(phone="+447911100009", source="inbound")
    client.force_login(support_user)
    assert client.get(reverse("contacts:export")).status_code == 403
    assert client.post(reverse("contacts:export"), {"scope": "all"}).status_code == 403
    page = client.get(reverse("contacts:export_optouts"))
    assert page.context["count"] == 2
    rows = rows_of(client.post(reverse("contacts:export_optouts")))
    assert rows[0] == exports.OPT_OUT_COLUMNS
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [
        ("'+447911100001", "keyword", "Ada"),
        ("'+447911100009", "inbound", ""),
    ]


def test_a_marketer_may_not_export_opt_outs(client, marketer_user):
    client.force_login(marketer_user)
    assert client.get(reverse("contacts:export_optouts")).status_code == 403
    assert client.post(reverse("contacts:export_optouts")).status_code == 403
    job = ExportJob.objects.create(scope=ExportJob.Scope.OPT_OUTS)
    for name in ("contacts:export_detail", "contacts:export_progress", "contacts:export_download"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 403


def test_anonymous_users_are_sent_to_sign_in(client):
    job = ExportJob.objects.create()
    urls = [reverse("contacts:export"), reverse("contacts:export_optouts")] + [
        reverse(n, args=[job.pk])
        for n in ("contacts:export_detail", "contacts:export_progress", "contacts:export_download")
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url


def test_a_large_export_is_built_in_the_background_with_progress(
    client, admin_user, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.CONTACTS_EXPORT_STREAM_MAX_ROWS = 2
    for i in range(3):
        ContactFactory(phone=f"+44791110000{i}", first_name=f"N{i}")
    sent = []
    monkeypatch.setattr("contacts.tasks.export_contacts.delay", lambda job_id: sent.append(job_id))
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("contacts:export"), {"scope": "all"})
    job = ExportJob.objects.get()
    assert response.url == reverse("contacts:export_detail", args=[job.pk])
    assert sent == [job.pk]
    assert b'hx-trigger="every 1s"' in client.get(response.url).content
    assert client.get(reverse("contacts:export_download", args=[job.pk])).status_code == 404

    exports.export_run(job_id=job.pk)
    exports.export_run(job_id=job.pk)  # a second delivery of the task does nothing
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_total) == (JobStatus.DONE, 3, 3)
    assert job.file.name.startswith("exports/contacts-all-")
    assert not list(Path(job.file.path).parent.glob("*.part"))

    progress = client.get(reverse("contacts:export_progress", args=[job.pk]))
    assert b"hx-trigger" not in progress.content
    assert b"3 rows, ready." in progress.content
    download = client.get(reverse("contacts:export_download", args=[job.pk]))
    assert download["Content-Disposition"].startswith("attachment")
    text = b"".join(download.streaming_content).decode("utf-8")
    assert [r[1] for r in csv.reader(io.StringIO(text.lstrip("\ufeff")))] == [
        "first_name",
        "N0",
        "N1",
        "N2",
    ]


def test_an_export_whose_list_was_deleted_fails_with_a_reason(client, marketer_user):
    club = ContactList.objects.create(name="Club")
    job = ExportJob.objects.create(scope=ExportJob.Scope.LIST, contact_list=club)
    club.delete()
    exports.export_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, "The list to export no longer exists.")
    client.force_login(marketer_user)
    assert (
        b"The export failed."
        in client.get(reverse("contacts:export_detail", args=[job.pk])).content
    )


def test_an_exported_file_imports_back_unchanged(client, marketer_user, settings):
    settings.PHONE_DEFAULT_REGION = "GB"
    CustomField.objects.create(key="visits", label="Visits", kind="number")
    ContactFactory(
        phone="+447911100001",
        first_name="Ada",
        country="GG",
        time_zone="Europe/Guernsey",
        custom={"visits": -2},
    )
    ContactFactory(phone="+33612345678", first_name="Zoë", country="FR", time_zone="Europe/Paris")
    client.force_login(marketer_user)
    data = b"".join(client.post(reverse("contacts:export"), {"scope": "all"}).streaming_content)

    job = imports.import_create(upload=SimpleUploadedFile("back.csv", data), user=marketer_user)
    header = imports.read_preview(job)[0]
    mapping = imports.guess_mapping(header, list(CustomField.objects.all()))
    assert mapping == {
        "0": "phone",
        "1": "first_name",
        "2": "last_name",
        "3": "email",
        "9": "custom:visits",
    }
    imports.import_start(
        job=job,
        mapping=mapping,
        has_header=True,
        list_ids=[],
        on_existing="update",
        consent_source="",
    )
    imports.import_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.created, job.updated, job.unchanged, job.invalid) == (
        JobStatus.DONE,
        0,
        0,
        2,
        0,
    )
    assert Contact.objects.get(first_name="Ada").custom == {"visits": -2}
