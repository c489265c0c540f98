"""Contact imports: reading files, guessing columns, checking rows, writing them (the
PostgreSQL path and the ORM path SQLite takes), the pages, and a real worker."""

from __future__ import annotations

import csv
import io
import logging
import os
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contacts import imports
from contacts.import_writers import number_key
from contacts.models import (
    ConsentEvent,
    Contact,
    ContactList,
    CustomField,
    ImportJob,
    JobStatus,
    ListMembership,
    Suppression,
)
from contacts.services import contact_opt_out
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

HEADER = "phone,first name,surname,email\n"


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PHONE_DEFAULT_REGION = "GB"


@pytest.fixture(params=["sql", "orm"])
def writer(request, monkeypatch):
    """Runs a test on the set-based PostgreSQL path and on the ORM path SQLite uses."""
    if request.param == "sql" and connection.vendor != "postgresql":
        pytest.skip("the COPY path needs PostgreSQL")
    if request.param == "orm":
        monkeypatch.setattr(
            imports.Pipeline, "_deduper", lambda self, own_session=False: imports.OrmDeduper()
        )
        monkeypatch.setattr(
            imports.Pipeline,
            "_writer",
            lambda self, own_session=False: imports.OrmWriter(self.job, self.list_ids),
        )
    return request.param


def make_job(content: bytes | str, name: str = "contacts.csv", user=None) -> ImportJob:
    data = content.encode() if isinstance(content, str) else content
    return imports.import_create(upload=SimpleUploadedFile(name, data), user=user)


def run(
    content: bytes | str,
    *,
    mapping: dict[str, str] | None = None,
    lists: tuple[ContactList, ...] = (),
    on_existing: str = "update",
    consent: str = "",
    has_header: bool | None = None,
) -> ImportJob:
    job = make_job(content)
    header = job.file_info["has_header"] if has_header is None else has_header
    if mapping is None:
        rows = imports.read_preview(job)
        mapping = imports.guess_mapping(
            rows[0] if header else [], list(CustomField.objects.all()), rows[1:]
        )
    assert imports.import_start(
        job=job,
        mapping=mapping,
        has_header=header,
        list_ids=[lst.pk for lst in lists],
        on_existing=on_existing,
        consent_source=consent,
    )
    imports.import_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def report(job: ImportJob) -> list[dict[str, str]]:
    with open(job.error_report.path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def counts(job: ImportJob) -> tuple[int, int, int, int, int]:
    return job.created, job.updated, job.unchanged, job.invalid, job.duplicate


def xlsx(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# -- guessing columns -------------------------------------------------------------------


def test_it_guesses_columns_from_the_header():
    fields = [CustomField.objects.create(key="plan", label="Membership plan")]
    header = ["Mobile Number", "First Name", "Surname", "E-mail", "Membership Plan", "Notes"]
    assert imports.guess_mapping(header, fields) == {
        "0": "phone",
        "1": "first_name",
        "2": "last_name",
        "3": "email",
        "4": "custom:plan",
    }


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["number", "firstname", "last_name"], {"0": "phone", "1": "first_name", "2": "last_name"}),
        (["Name", "Phone", "Mobile"], {"1": "phone"}),
        (["Cell phone", "plan"], {"0": "phone", "1": "custom:plan"}),
        (["Work mobile no."], {"0": "phone"}),
    ],
)
def test_it_guesses_each_field_once_and_custom_fields_by_key(header, expected):
    fields = [CustomField.objects.create(key="plan", label="Plan")]
    assert imports.guess_mapping(header, fields) == expected


def test_it_finds_the_phone_column_of_a_file_without_a_header():
    job = make_job("Ada,07911 123456\nBob,07911 123457\n")
    assert job.file_info["has_header"] is False
    rows = imports.read_preview(job)
    assert imports.guess_mapping([], [], rows) == {"1": "phone"}


# -- numbers ----------------------------------------------------------------------------


def test_it_maps_every_way_of_writing_a_number_to_one_e164(writer):
    job = run(
        HEADER + "07911 123456,Ada,,\n"
        "+44 (0)7911 123456,Ada,,\n"
        "0044 7911 123456,Ada,,\n"
        "+447911123456,Ada,,\n"
        "'+447911123456,Ada,,\n"
        "7911123456,Ada,,\n"
    )
    assert counts(job) == (1, 0, 0, 0, 5)
    contact = Contact.objects.get()
    assert contact.phone == "+447911123456"
    assert contact.source == "import"
    assert (contact.country, contact.time_zone) == ("GG", "Europe/Guernsey")
    assert {r["reason"] for r in report(job)} == {"duplicate: the same number as line 2"}
    assert [r["line"] for r in report(job)] == ["3", "4", "5", "6", "7"]


def test_it_takes_country_and_time_zone_from_the_number(writer):
    run(HEADER + "07400 123456,A,,\n+1 415 555 2671,B,,\n+33 6 12 34 56 78,C,,\n")
    got = {c.first_name: (c.country, c.time_zone) for c in Contact.objects.all()}
    assert got["A"] == ("GB", "Europe/London")
    assert got["B"] == ("US", "America/Los_Angeles")
    assert got["C"] == ("FR", "Europe/Paris")


def test_it_rejects_landlines_and_invalid_numbers_with_the_reason(writer):
    job = run(
        HEADER + "020 7946 0018,Land,,\n"
        "12345,Short,,\n"
        "not a number,Words,,\n"
        ",Nobody,,\n"
        "0800 123 4567,Freephone,,\n"
        "07911 123456,Good,,\n"
    )
    assert counts(job) == (1, 0, 0, 5, 0)
    rows = {r["line"]: r for r in report(job)}
    assert rows["2"]["value"] == "020 7946 0018"
    assert rows["2"]["reason"] == "a landline number: texts cannot reach it"
    assert "not a valid number" in rows["3"]["reason"]
    assert "not a phone number" in rows["4"]["reason"]
    assert rows["5"]["reason"] == "no phone number"
    assert rows["6"]["reason"] == "not a mobile number: texts cannot reach it"
    assert {r["column"] for r in rows.values()} == {"phone"}
    assert Contact.objects.get().first_name == "Good"


def _by_contacts_phone(raw: str) -> tuple:
    """What contacts.phone says about a number: the rules the importer must follow."""
    from contacts import phone as phones

    try:
        number = phones.parse(raw)
    except phones.InvalidNumber as exc:
        return ("rejected", str(exc))
    if not phones.is_mobile(number):
        return ("not a mobile",)
    e164 = phones.normalize(raw)
    # Satellite and other non-geographic mobiles have region "001"; Contact.country holds
    # two letters, so the importer stores no country for them.
    country = phones.country_of(e164).replace("001", "")
    return (e164, country, phones.time_zone_of(e164))


def _by_the_importer(checker: imports.RowChecker, raw: str) -> tuple:
    try:
        return checker._mobile(raw)
    except imports.RowError as exc:
        if exc.reason.endswith("texts cannot reach it"):
            return ("not a mobile",)
        return ("rejected", exc.reason)


TRICKY = [
    "07911 123456", "07624 123456", "07781 123456", "07797 123456", "01624 612345",
    "+1 415 555 2671", "+1 204 555 0123", "+1 808 555 0123", "+7 701 123 4567", "+7 912 345 6789",
    "+55 11 91234 5678", "+54 9 11 2345 6789", "+86 131 2345 6789", "+61 412 345 678",
    "+800 1234 5678", "+882 1234 5678", "+870 301 234 567", "+881 6 1234 5678", "+882 342 1234", "+44 7700 900123", "+47 412 34 567", "+358 40 123 4567",
    "+590 690 12 34 56", "+262 692 12 34 56", "+599 9 512 3456", "00353 85 123 4567", "+",
    "00", "0", "+44", "++44 7911 123456", "+44 (0)20 7946 0018", "tel:+447911123456",
]  # fmt: skip


@pytest.mark.parametrize("raw", TRICKY)
def test_it_classifies_numbers_exactly_as_contacts_phone_does(raw):
    checker = imports.RowChecker({"0": "phone"}, [])
    assert _by_the_importer(checker, raw) == _by_contacts_phone(raw)


@hypothesis_settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.sampled_from(
        [
            "",
            "0",
            "07",
            "+44",
            "0044",
            "+1",
            "+33",
            "+49 1",
            "+7",
            "+55",
            "+61 4",
            "+234",
            "+91 9",
            "+86 1",
            "00",
        ]
    ),
    digits=st.text(alphabet="0123456789", min_size=3, max_size=13),
)
def test_it_agrees_with_contacts_phone_on_random_numbers(prefix, digits):
    checker = imports.RowChecker({"0": "phone"}, [])
    raw = prefix + digits
    assert _by_the_importer(checker, raw) == _by_contacts_phone(raw)


def _example_numbers():
    """Every example number of the metadata (each region, each type, the non-geographic
    codes) and neighbours of each (last digit changed, one digit more, one less)."""
    import phonenumbers

    examples = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in range(phonenumbers.PhoneNumberType.UNKNOWN):
            if number := phonenumbers.example_number_for_type(region, kind):
                examples.add(
                    (number.country_code, phonenumbers.national_significant_number(number))
                )
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        if number := phonenumbers.example_number_for_non_geo_entity(code):
            examples.add((code, phonenumbers.national_significant_number(number)))
    for code, nsn in sorted(examples):
        for variant in {nsn, nsn[:-1] + str((int(nsn[-1]) + 5) % 10), nsn + "0", nsn[:-1]}:
            yield phonenumbers.parse(f"+{code}{variant}")


def test_it_finds_region_and_type_exactly_as_phonenumbers_does():
    import phonenumbers

    from contacts.import_rows import _region_and_type

    checked = 0
    for number in _example_numbers():
        expected = (phonenumbers.region_code_for_number(number), phonenumbers.number_type(number))
        assert _region_and_type(number) == expected, number
        checked += 1
    assert checked > 3_000


# -- the error report -------------------------------------------------------------------


def test_it_reports_every_rejected_row_with_its_line_value_and_reason(writer):
    fields = [
        CustomField.objects.create(key="visits", label="Visits", kind="number"),
        CustomField.objects.create(key="joined", label="Joined", kind="date"),
        CustomField.objects.create(key="vip", label="VIP", kind="boolean"),
        CustomField.objects.create(
            key="plan", label="Plan", kind="choice", choices=["Gold", "Free"]
        ),
    ]
    assert len(fields) == 4
    content = (
        "phone,first name,email,visits,joined,vip,plan\n"  # line 1
        "07911 100001,Ok,ok@example.com,3,2024-02-01,yes,gold\n"  # 2
        "\n"  # 3: blank, skipped but counted
        "07911 100002,Bad email,not-an-email,,,,\n"  # 4
        "07911 100003,Bad number,,many,,,\n"  # 5
        "07911 100004,Bad date,,,31/02/2024,,\n"  # 6
        "07911 100005,Bad bool,,,,perhaps,\n"  # 7
        "07911 100006,Bad choice,,,,,Platinum\n"  # 8
        "07911 100007,UK date,,1.5,05/01/2024,no,Free\n"  # 9
    )
    job = run(content)
    assert counts(job) == (2, 0, 0, 5, 0)
    assert job.rows_done == 8
    rows = report(job)
    assert [(r["line"], r["column"]) for r in rows] == [
        ("4", "email"),
        ("5", "custom:visits"),
        ("6", "custom:joined"),
        ("7", "custom:vip"),
        ("8", "custom:plan"),
    ]
    assert rows[0]["value"] == "not-an-email"
    assert rows[1]["reason"] == "Visits: 'many' is not a number."
    assert rows[4]["reason"] == "Plan: 'Platinum' is not one of Gold, Free."
    ok = Contact.objects.get(phone="+447911100001")
    assert ok.custom == {"visits": 3, "joined": "2024-02-01", "vip": True, "plan": "Gold"}
    uk = Contact.objects.get(phone="+447911100007")
    assert uk.custom == {"visits": 1.5, "joined": "2024-01-05", "vip": False, "plan": "Free"}


def test_it_rejects_formula_looking_values_and_neutralises_them_in_the_report(writer):
    CustomField.objects.create(key="note", label="Note")
    content = (
        "phone,first name,surname,note\n"
        '07911 100001,"=HYPERLINK(""http://evil"")",Smith,\n'
        "07911 100002,Ann,@SUM(A1),\n"
        "07911 100003,Ann,Lee,+cmd|' /C calc'!A0\n"
        "07911 100004,Ann,Lee,-5\n"
        "07911 100005,Ann,Lee,-\n"
    )
    job = run(content)
    assert counts(job) == (2, 0, 0, 3, 0)
    rows = report(job)
    assert [r["column"] for r in rows] == ["first_name", "last_name", "custom:note"]
    assert rows[0]["value"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["reason"] == "looks like a spreadsheet formula (starts with =)"
    assert rows[2]["value"].startswith("'+cmd")
    assert Contact.objects.get(phone="+447911100004").custom == {"note": "-5"}


def test_it_rejects_a_2000_character_name_instead_of_cutting_it(writer):
    job = run(HEADER + f"07911 100001,{'A' * 2000},,\n07911 100002,Bo,,\n")
    assert counts(job) == (1, 0, 0, 1, 0)
    (row,) = report(job)
    assert row["reason"] == "longer than 150 characters (2,000)"
    assert len(row["value"]) == 201  # shortened in the report, with an ellipsis


def test_it_reports_an_unreadable_line_and_imports_the_rest(writer):
    content = HEADER + f'07911 100001,"{"x" * 200_000}",,\n07911 100002,Bo,,\n'
    job = run(content)
    assert job.status == JobStatus.DONE
    assert (job.created, job.invalid) == (1, 1)
    assert "cannot be read" in report(job)[0]["reason"]


def test_it_has_no_error_report_when_every_row_was_good(writer):
    job = run(HEADER + "07911 100001,Ada,,\n")
    assert not job.error_report
    assert not list((Path(job.file.path).parent / "errors").glob(f"import-{job.pk}-*"))


# -- existing contacts, lists, consent --------------------------------------------------


def test_text_with_tabs_newlines_backslashes_and_quotes_is_stored_as_written(writer):
    CustomField.objects.create(key="note", label="Note")
    CustomField.objects.create(key="vip", label="VIP", kind=CustomField.Kind.BOOLEAN)
    CustomField.objects.create(key="visits", label="Visits", kind=CustomField.Kind.NUMBER)
    awkward = ["Tab\there", "Two\nlines", "Back\\slash \\N", 'Quote " and \r', "Zoë ✓ \\."]
    lines = "".join(
        f'07911 1{i:05d},"{text.replace(chr(34), chr(34) * 2)}","{text.replace(chr(34), chr(34) * 2)}",'
        f'"{text.replace(chr(34), chr(34) * 2)}",{i % 2},{i % 2}\n'
        for i, text in enumerate(awkward)
    )
    job = run(
        "phone,first name,surname,note,vip,visits\n" + lines,
        mapping={"0": "phone", "1": "first_name", "2": "last_name", "3": "custom:note",
                 "4": "custom:vip", "5": "custom:visits"},
    )  # fmt: skip
    assert counts(job) == (5, 0, 0, 0, 0)
    for i, text in enumerate(awkward):
        contact = Contact.objects.get(phone=f"+4479111{i:05d}")
        assert (contact.first_name, contact.last_name) == (text.strip(), text.strip())
        # 1 and True are equal keys in Python: a boolean and a number stay apart.
        assert contact.custom == {"note": text.strip(), "vip": bool(i % 2), "visits": i % 2}
        assert type(contact.custom["vip"]) is bool and type(contact.custom["visits"]) is int


def test_it_updates_existing_contacts_and_keeps_what_blank_cells_do_not_say(writer):
    CustomField.objects.create(key="plan", label="Plan")
    where = {"country": "GG", "time_zone": "Europe/Guernsey"}
    ContactFactory(
        phone="+447911100001", first_name="Ada", last_name="Old", email="a@x.com", **where
    )
    ContactFactory(
        phone="+447911100002", first_name="Bob", last_name="Same", custom={"plan": "x"}, **where
    )
    job = run(
        "phone,first name,surname,email,plan\n"
        "07911 100001,,New,,gold\n"
        "07911 100002,Bob,Same,,x\n"
        "07911 100003,Cy,New,,\n"
    )
    assert counts(job) == (1, 1, 1, 0, 0)
    ada = Contact.objects.get(phone="+447911100001")
    assert (ada.first_name, ada.last_name, ada.email) == ("Ada", "New", "a@x.com")
    assert ada.custom == {"plan": "gold"}


def test_it_fills_in_a_missing_country_and_time_zone_of_an_existing_contact(writer):
    ContactFactory(phone="+447911100001", country="", time_zone="")
    ContactFactory(phone="+447911100002", country="GB", time_zone="Europe/London")
    job = run(HEADER + "07911 100001,,,\n07911 100002,,,\n")
    assert counts(job) == (0, 1, 1, 0, 0)
    got = dict(Contact.objects.values_list("phone", "time_zone"))
    assert got == {"+447911100001": "Europe/Guernsey", "+447911100002": "Europe/London"}


def test_it_skips_existing_contacts_when_asked(writer):
    ContactFactory(phone="+447911100001", first_name="Ada", last_name="Old")
    job = run(HEADER + "07911 100001,Changed,Changed,\n07911 100002,Bo,,\n", on_existing="skip")
    assert counts(job) == (1, 0, 1, 0, 0)
    assert Contact.objects.get(phone="+447911100001").last_name == "Old"


def test_it_adds_new_existing_and_skipped_contacts_to_the_chosen_lists(writer):
    club, news, other = (ContactList.objects.create(name=n) for n in ("Club", "News", "Other"))
    old = ContactFactory(phone="+447911100001")
    ListMembership.objects.create(contact_list=club, contact=old)
    run(
        HEADER + "07911 100001,,,\n07911 100002,,,\n07911 100002,,,\n",
        lists=(club, news),
        on_existing="skip",
    )
    for lst in (club, news):
        assert set(lst.contacts.values_list("phone", flat=True)) == {
            "+447911100001",
            "+447911100002",
        }
    assert other.contacts.count() == 0
    assert ListMembership.objects.count() == 4


def test_a_suppressed_number_is_imported_opted_out_and_stays_so(writer):
    contact_opt_out(phone="+447911100001", source="keyword", keyword="STOP")
    Suppression.objects.create(phone="+447911100002", source="keyword")
    ContactFactory(phone="+447911100002", opted_out=False)  # out of step with the ledger
    ContactFactory(phone="+447911100003", opted_out=True, opted_out_at=timezone.now())
    for on_existing in ("update", "skip"):
        job = run(
            HEADER + "07911 100001,A,,\n07911 100002,B,,\n07911 100003,C,,\n07911 100004,D,,\n",
            on_existing=on_existing,
            consent="Shop form",
        )
        assert job.status == JobStatus.DONE
        assert (
            not Contact.objects.reachable()
            .filter(phone__in=["+447911100001", "+447911100002", "+447911100003"])
            .exists()
        )
    new = Contact.objects.get(phone="+447911100001")
    assert new.opted_out and new.opted_out_at is not None
    assert Contact.objects.reachable().get().phone == "+447911100004"


def test_it_records_consent_for_new_reachable_contacts_only_when_a_source_is_given(
    writer, marketer_user
):
    Suppression.objects.create(phone="+447911100003", source="keyword")
    ContactFactory(phone="+447911100001")
    job = make_job(
        HEADER + "07911 100001,,,\n07911 100002,,,\n07911 100003,,,\n", user=marketer_user
    )
    imports.import_start(
        job=job,
        mapping={"0": "phone"},
        has_header=True,
        list_ids=[],
        on_existing="update",
        consent_source="  Paper form at the shop ",
    )
    imports.import_run(job_id=job.pk)
    (event,) = ConsentEvent.objects.all()
    assert (event.phone, event.kind, event.source) == ("+447911100002", "opt_in", "import")
    assert event.note == "Paper form at the shop"
    assert event.user == marketer_user
    assert event.contact == Contact.objects.get(phone="+447911100002")

    run(HEADER + "07911 100009,,,\n")
    assert ConsentEvent.objects.count() == 1


def test_a_second_import_of_the_same_file_changes_nothing(writer):
    content = HEADER + "".join(f"07911 1{i:05d},N{i},L,\n" for i in range(30))
    first = run(content)
    again = run(content)
    assert counts(first) == (30, 0, 0, 0, 0)
    assert counts(again) == (0, 0, 30, 0, 0)


def test_it_imports_in_chunks_and_finds_duplicates_across_them(writer, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 7)
    lines = [f"07911 1{i:05d},N{i},,\n" for i in range(40)]
    job = run(HEADER + "".join(lines) + lines[3] + lines[30])
    assert counts(job) == (40, 0, 0, 0, 2)
    assert job.rows_done == job.rows_total == 42
    assert [(r["line"], r["reason"]) for r in report(job)] == [
        ("42", "duplicate: the same number as line 5"),
        ("43", "duplicate: the same number as line 32"),
    ]


def _needs_threads() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the pipeline runs threads on PostgreSQL only")


@pytest.mark.django_db(transaction=True)
def test_the_deduper_and_the_writers_have_sessions_of_their_own_and_find_duplicates_across_chunks(
    monkeypatch,
):
    _needs_threads()
    monkeypatch.setattr(imports, "CHUNK_ROWS", 7)
    sessions, writing = [], {}
    for cls in (imports.PostgresDeduper, imports.PostgresWriter):

        def spy(self, *args, own_session=False, _original=cls.__init__, _cls=cls):
            _original(self, *args, own_session=own_session)
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('temp_buffers'), pg_backend_pid()")
                buffers, pid = cursor.fetchone()
            name = threading.current_thread().name
            sessions.append((name, _cls.__name__, own_session, buffers, sys.getswitchinterval()))
            writing[name] = pid

        monkeypatch.setattr(cls, "__init__", spy)
    # Each writer holds its first chunk until the other has one too: both take part.
    both = threading.Barrier(2, timeout=30)
    original_write = imports.PostgresWriter.write

    def write(self, rows):
        if not getattr(self, "waited", False):
            self.waited = True
            both.wait()
        return original_write(self, rows)

    monkeypatch.setattr(imports.PostgresWriter, "write", write)
    lines = [f"07911 1{i:05d},N{i},,\n" for i in range(40)]
    before = sys.getswitchinterval()
    job = run(HEADER + "".join(lines) + lines[3] + lines[30] + lines[3])
    name, gil = f"import-{job.pk}", imports.GIL_SWITCH_SECONDS
    assert sorted(sessions) == [
        (f"{name}-dedupe", "PostgresDeduper", True, "256MB", gil),
        (f"{name}-writer-1", "PostgresWriter", True, "8MB", gil),
        (f"{name}-writer-2", "PostgresWriter", True, "8MB", gil),
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert len({*writing.values(), cursor.fetchone()[0]}) == 4
    assert sys.getswitchinterval() == before
    assert not [t for t in threading.enumerate() if t.name.startswith(name)]
    assert counts(job) == (40, 0, 0, 0, 3)
    assert job.rows_done == job.rows_total == 43
    assert Contact.objects.count() == 40
    assert [(r["line"], r["reason"]) for r in report(job)] == [
        ("42", "duplicate: the same number as line 5"),
        ("43", "duplicate: the same number as line 32"),
        ("44", "duplicate: the same number as line 5"),
    ]


@pytest.mark.django_db(transaction=True)
def test_the_threads_update_skip_opt_out_and_add_to_lists_as_one_writer_does(
    monkeypatch, marketer_user
):
    """The same file through the deduper and two writers, a chunk of 3 rows each: what
    the single-threaded tests check, at once, across chunks and writers."""
    _needs_threads()
    monkeypatch.setattr(imports, "CHUNK_ROWS", 3)
    club, news = ContactList.objects.create(name="Club"), ContactList.objects.create(name="News")
    old = ContactFactory(phone="+447911100001", first_name="Old", last_name="Name")
    ListMembership.objects.create(contact_list=club, contact=old)
    ContactFactory(
        phone="+447911100002", first_name="Same", country="GB", time_zone="Europe/London"
    )
    Suppression.objects.create(phone="+447911100003", source="keyword")
    ContactFactory(phone="+447911100003", opted_out=False)  # out of step with the ledger
    Suppression.objects.create(phone="+447911100004", source="keyword")
    rows = ["07911 100001,New,,", "07911 100002,Same,,", "07911 100003,X,,", "07911 100004,Y,,"]
    rows += [f"07911 2{i:05d},N{i},,\n" for i in range(12)]
    rows += ["07911 100001,Again,,", "not a number,,,", "+44 7911 200003,Dup,,"]
    content = HEADER + "".join(row.rstrip("\n") + "\n" for row in rows)

    def run_as(on_existing: str) -> ImportJob:
        job = make_job(content, user=marketer_user)
        imports.import_start(
            job=job,
            mapping={"0": "phone", "1": "first_name"},
            has_header=True,
            list_ids=[club.pk, news.pk],
            on_existing=on_existing,
            consent_source="Shop form",
        )
        imports.import_run(job_id=job.pk)
        job.refresh_from_db()
        return job

    job = run_as("update")
    assert job.status == JobStatus.DONE, job.error
    # 1 updated (a new name), 2 unchanged, 3 opted out (an update), 4 and 12 created.
    assert counts(job) == (13, 2, 1, 1, 2)
    assert job.rows_done == job.rows_total == 19
    assert Contact.objects.get(phone="+447911100001").first_name == "New"
    assert not Contact.objects.reachable().filter(phone__in=["+447911100003", "+447911100004"])
    for lst in (club, news):
        assert lst.contacts.count() == 16
    # Consent for the new reachable contacts only (not the suppressed +447911100004).
    assert ConsentEvent.objects.filter(source="import", user=marketer_user).count() == 12
    rejected = {r["line"]: r["reason"] for r in report(job)}
    assert sorted(rejected) == ["18", "19", "20"]
    assert rejected["18"] == "duplicate: the same number as line 2"
    assert rejected["19"].startswith("not a phone number")
    assert rejected["20"] == "duplicate: the same number as line 9"

    again = run_as("skip")
    assert counts(again) == (0, 0, 16, 1, 2)
    assert Contact.objects.get(phone="+447911100001").first_name == "New"
    assert ConsentEvent.objects.filter(source="import").count() == 12
    assert ListMembership.objects.count() == 32


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stage", ["dedupe", "write"])
def test_a_failing_thread_stops_the_others_and_fails_the_job_with_its_reason(monkeypatch, stage):
    _needs_threads()
    monkeypatch.setattr(imports, "CHUNK_ROWS", 5)
    calls = []
    cls, method = (
        (imports.PostgresDeduper, "dedupe")
        if stage == "dedupe"
        else (imports.PostgresWriter, "write")
    )
    original = getattr(cls, method)

    def third_fails(self, rows):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("connection lost")
        return original(self, rows)

    monkeypatch.setattr(cls, method, third_fails)
    before = sys.getswitchinterval()
    job = run(HEADER + "".join(f"07911 1{i:05d},,,\n" for i in range(100)))
    assert job.status == JobStatus.FAILED
    assert job.error.startswith(
        "The import stopped on an unexpected error: RuntimeError: connection lost."
    )
    assert len(calls) < 20  # the reading stopped soon after, not at the end of the file
    assert not [t for t in threading.enumerate() if t.name.startswith(f"import-{job.pk}")]
    assert sys.getswitchinterval() == before
    # What was committed is counted: whole chunks only.
    assert Contact.objects.count() == job.created == job.rows_done
    assert job.rows_done % 5 == 0


@pytest.mark.django_db(transaction=True)
def test_an_error_in_the_reading_thread_stops_the_others(monkeypatch):
    _needs_threads()
    monkeypatch.setattr(imports, "CHUNK_ROWS", 5)
    original = imports.RowChecker.check

    def check(self, line, cells):
        if line == 30:
            raise MemoryError
        return original(self, line, cells)

    monkeypatch.setattr(imports.RowChecker, "check", check)
    before = sys.getswitchinterval()
    job = run(HEADER + "".join(f"07911 1{i:05d},N{i},,\n" for i in range(40)))
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("The import stopped on an unexpected error: MemoryError.")
    assert not [t for t in threading.enumerate() if t.name.startswith(f"import-{job.pk}")]
    assert sys.getswitchinterval() == before
    # Chunks in hand are dropped; the committed ones are counted, and said.
    assert Contact.objects.count() == job.created == job.rows_done < 30
    assert job.rows_done % 5 == 0
    if job.rows_done:
        assert f"The first {job.rows_done} rows were processed" in job.error


@pytest.mark.django_db(transaction=True)
def test_a_writer_of_its_own_checks_foreign_keys_before_the_job_row_moves():
    """The job's row is updated after the writer's statements: with the checks left to
    the commit, a second writer would wait on that row while they ran."""
    _needs_threads()
    job = make_job(HEADER + "07911 100001,,,\n")
    gone = ContactList.objects.create(name="Gone")
    gone_id = gone.pk
    gone.delete()
    row = imports.Row(2, "+447911100001", "", "", "", {}, "GB", "Europe/London", "07911 100001")
    for own_session, raised_in_write in ((False, False), (True, True)):
        writer = imports.PostgresWriter(job, [gone_id], own_session=own_session)
        returned = False
        with pytest.raises(IntegrityError), transaction.atomic():
            writer.write([row])
            returned = True
        assert returned is not raised_in_write
        writer.close()
    assert not Contact.objects.exists()


def test_the_deduper_keeps_the_first_row_of_a_number_and_names_it(writer):
    rows = [
        imports.Row(line, phone, "", "", "", {}, "GB", "", raw)
        for line, phone, raw in [
            (2, "+447911100001", "07911 100001"),
            (3, "+447911100002", "07911 100002"),
            (4, "+447911100001", "+44 7911 100001"),
        ]
    ]
    deduper = imports.Pipeline(make_job(HEADER), [], print, print)._deduper()
    kept, duplicates = deduper.dedupe(rows[:2])
    assert (kept, duplicates) == (rows[:2], [])
    later = [rows[2], imports.Row(5, "+447911100003", "", "", "", {}, "GB", "", "x")]
    kept, duplicates = deduper.dedupe([*later, later[1]._replace(line=6, raw_phone="y")])
    assert kept == [later[1]]
    assert duplicates == [(4, "+44 7911 100001", 2), (6, "y", 5)]
    deduper.close()


def test_the_deduper_sends_no_statement_that_grows_with_the_chunk(settings):
    """With DEBUG, Django keeps the text of every statement: a chunk's numbers as
    parameters would make a worker's memory grow with the file."""
    if connection.vendor != "postgresql":
        pytest.skip("the SQL deduper")
    deduper = imports.PostgresDeduper()
    rows = [
        imports.Row(i, f"+4479111{i:05d}", "", "", "", {}, "GB", "", "x") for i in range(2, 3002)
    ]
    with CaptureQueriesContext(connection) as queries:
        kept, duplicates = deduper.dedupe([*rows, rows[0]._replace(line=3002)])
    assert (len(kept), duplicates) == (3000, [(3002, "x", 2)])
    assert max(len(q["sql"]) for q in queries.captured_queries) < 1000
    deduper.close()


def test_a_number_is_its_digits_as_an_integer():
    assert number_key("+447911100001") == 447911100001
    assert number_key("+999999999999999") < 2**63  # E.164 allows 15 digits


# -- files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("phone;first name\n07911 100001;José\n".encode(), "utf-8"),
        ("\ufeffphone\tfirst name\n07911 100001\tJosé\n".encode(), "utf-8-sig"),
        ("phone|first name\r\n07911 100001|José\r\n".encode("cp1252"), "cp1252"),
        ("phone,first name\n07911 100001,José\n".encode("utf-16"), "utf-16"),
        (b"phone,first name\n07911 100001,Jos\xe9 \x81\n", "latin-1"),
    ],
)
def test_it_reads_the_common_encodings_and_delimiters(writer, data, encoding):
    job = run(data)
    assert job.file_info["encoding"] == encoding
    assert job.created == 1
    assert Contact.objects.get().first_name.startswith("José")


def test_it_reads_an_excel_workbook_with_numbers_and_dates():
    CustomField.objects.create(key="joined", label="Joined", kind="date")
    data = xlsx(
        [
            ["Mobile", "Name", "Joined"],
            [447911100001, "Ada", date(2024, 3, 1)],
            [7911100002, "Bo", None],
            ["020 7946 0018", "Land", None],
        ]
    )
    job = run(data)
    assert job.file_info["format"] == "xlsx"
    assert counts(job) == (2, 0, 0, 1, 0)
    assert Contact.objects.get(phone="+447911100001").custom == {"joined": "2024-03-01"}
    assert Contact.objects.filter(phone="+447911100002").exists()


def test_it_reads_a_workbook_that_does_not_state_its_size():
    import re
    import zipfile

    original = zipfile.ZipFile(io.BytesIO(xlsx([["phone"], ["07911 100001"], ["07911 100002"]])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"<dimension[^>]*/>", b"", data)
            copy.writestr(item, data)
    job = run(buffer.getvalue())
    assert (job.status, job.created, job.rows_total) == (JobStatus.DONE, 2, 2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf \r\n\r\n", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a spreadsheet"),
        (b"%PDF-1.7\n...", "This is a PDF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel file (.xls)"),
        (b"PK\x03\x04" + b"\x00" * 100, "not an Excel workbook"),
        (
            "phone,name\n07911 100001,Zoë\n".encode() + b"07911 100002,Zo\xeb\n",
            "mixes text encodings: line 3",
        ),
        (
            b"phone,name\n07911 100002,Zo\xeb\n" + "07911 100001,Zoë\n".encode(),
            "mixes text encodings: line 2",
        ),
    ],
)
def test_it_refuses_files_it_cannot_read_with_a_clear_message(data, message):
    with pytest.raises(
        imports.ImportFileError,
        match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\."),
    ):
        make_job(data)
    assert ImportJob.objects.count() == 0
    assert not list(Path(imports.default_storage.path("imports")).glob("*.upload"))


def test_it_refuses_a_file_over_the_size_limit(settings):
    settings.CONTACTS_IMPORT_MAX_BYTES = 1000
    with pytest.raises(imports.ImportFileError, match=r"the limit is"):
        make_job(HEADER + "07911 100001,,,\n" * 100)
    assert ImportJob.objects.count() == 0


def test_it_fails_the_job_with_a_reason_when_the_file_is_gone():
    job = make_job(HEADER + "07911 100001,,,\n")
    imports.import_start(
        job=job,
        mapping={"0": "phone"},
        has_header=True,
        list_ids=[],
        on_existing="update",
        consent_source="",
    )
    Path(job.file.path).unlink()
    imports.import_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("The import stopped on an unexpected error: FileNotFoundError")
    assert job.finished_at is not None


def test_it_fails_the_job_and_logs_when_the_database_write_breaks(writer, monkeypatch, caplog):
    def broken(self, rows):
        raise RuntimeError("disk full\nsecond line")

    monkeypatch.setattr(imports.PostgresWriter, "write", broken)
    monkeypatch.setattr(imports.OrmWriter, "write", broken)
    with caplog.at_level(logging.ERROR, logger="contacts.imports"):
        job = run(HEADER + "07911 100001,,,\n")
    assert job.status == JobStatus.FAILED
    assert job.error == "The import stopped on an unexpected error: RuntimeError: disk full."
    assert f"import {job.pk} failed" in caplog.text
    assert Contact.objects.count() == 0


def test_it_says_how_far_it_got_when_it_fails_midway(monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    calls = []
    original = imports.Pipeline._write

    def failing_second(self, writer, chunk):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("connection lost")
        return original(self, writer, chunk)

    monkeypatch.setattr(imports.Pipeline, "_write", failing_second)
    job = run(HEADER + "".join(f"07911 1{i:05d},,,\n" for i in range(5)))
    assert job.status == JobStatus.FAILED
    assert "The first 2 rows were processed and their contacts saved" in job.error
    assert "never duplicated" in job.error
    assert Contact.objects.count() == 2


def test_it_runs_a_job_once_and_only_when_started():
    job = make_job(HEADER + "07911 100001,,,\n")
    imports.import_run(job_id=job.pk)  # not started: no mapping yet
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    imports.import_start(
        job=job,
        mapping={"0": "phone"},
        has_header=True,
        list_ids=[],
        on_existing="update",
        consent_source="",
    )
    assert not imports.import_start(
        job=job,
        mapping={"0": "phone"},
        has_header=True,
        list_ids=[],
        on_existing="skip",
        consent_source="",
    )
    imports.import_run(job_id=job.pk)
    imports.import_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.created, job.on_existing) == (JobStatus.DONE, 1, "update")


def test_a_running_job_without_progress_for_long_is_failed_with_a_reason():
    job = make_job(HEADER + "07911 100001,,,\n")
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, mapping={"0": "phone"}, started_at=timezone.now()
    )
    job.refresh_from_db()
    imports._beat(job.pk)
    assert not imports.import_fail_if_stale(job)
    cache.set(imports._beat_key(job.pk), time.time() - imports.STALE_AFTER_SECONDS - 1)
    assert imports.import_fail_if_stale(job)
    assert job.status == JobStatus.FAILED
    assert "stopped without finishing" in job.error


def test_without_a_heartbeat_only_a_job_older_than_the_task_limit_is_stale():
    job = make_job(HEADER + "07911 100001,,,\n")
    started = timezone.now() - timedelta(seconds=imports.STALE_AFTER_SECONDS * 2)
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, mapping={"0": "phone"}, started_at=started
    )
    job.refresh_from_db()
    cache.delete(imports._beat_key(job.pk))
    assert not imports.import_fail_if_stale(job)
    job.started_at = timezone.now() - timedelta(seconds=imports.TIME_LIMIT_SECONDS + 300)
    assert imports.import_fail_if_stale(job)
    assert job.status == JobStatus.FAILED


# -- pages ------------------------------------------------------------------------------


def upload(client, data: bytes | str, name: str = "people.csv"):
    data = data.encode() if isinstance(data, str) else data
    return client.post(reverse("contacts:import_upload"), {"file": SimpleUploadedFile(name, data)})


def test_it_uploads_maps_and_starts_an_import_from_the_pages(
    client, marketer_user, django_capture_on_commit_callbacks, monkeypatch
):
    club = ContactList.objects.create(name="Club")
    client.force_login(marketer_user)
    response = upload(
        client, "Mobile,First Name,Surname\n07911 100001,Ada,Lovelace\n020 7946 0018,Land,Line\n"
    )
    job = ImportJob.objects.get()
    assert response.url == reverse("contacts:import_map", args=[job.pk])
    assert (job.original_name, job.created_by) == ("people.csv", marketer_user)

    page = client.get(response.url)
    assert page.status_code == 200
    assert b"Lovelace" in page.content
    assert page.context["form"].initial["col_0"] == "phone"
    assert page.context["form"].initial["col_2"] == "last_name"

    sent = []
    monkeypatch.setattr("contacts.tasks.import_contacts.delay", lambda job_id: sent.append(job_id))
    form = {
        "col_0": "phone",
        "col_1": "first_name",
        "col_2": "last_name",
        "has_header": "on",
        "on_existing": "update",
        "lists": [club.pk],
        "consent_source": "Web form",
    }
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("contacts:import_map", args=[job.pk]), form)
    assert response.url == reverse("contacts:import_detail", args=[job.pk])
    assert len(callbacks) == 1 and sent == [job.pk]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = client.post(reverse("contacts:import_map", args=[job.pk]), form)
    assert again.url == reverse("contacts:import_detail", args=[job.pk])
    assert callbacks == [] and sent == [job.pk]

    job.refresh_from_db()
    assert job.mapping == {"0": "phone", "1": "first_name", "2": "last_name"}
    assert (job.list_ids, job.consent_source, job.rows_total) == ([club.pk], "Web form", 2)

    waiting = client.get(reverse("contacts:import_detail", args=[job.pk]))
    assert b'hx-trigger="every 1s"' in waiting.content

    imports.import_run(job_id=job.pk)
    done = client.get(reverse("contacts:import_progress", args=[job.pk]))
    assert b"hx-trigger" not in done.content
    assert b"Import finished." in done.content
    assert done.context["summary"][0][1] == 1

    errors = client.get(reverse("contacts:import_errors", args=[job.pk]))
    assert errors["Content-Disposition"].startswith("attachment")
    text = b"".join(errors.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        ["line", "column", "value", "reason"],
        ["3", "phone", "020 7946 0018", "a landline number: texts cannot reach it"],
    ]


def test_the_upload_page_explains_a_bad_file_and_keeps_nothing(client, marketer_user):
    client.force_login(marketer_user)
    response = upload(client, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", name="photo.png")
    assert response.status_code == 200
    assert "not a spreadsheet" in response.context["form"].errors["file"][0]
    assert ImportJob.objects.count() == 0


def test_the_upload_page_refuses_a_file_over_the_limit(client, marketer_user, settings):
    settings.CONTACTS_IMPORT_MAX_BYTES = 10
    client.force_login(marketer_user)
    response = upload(client, HEADER + "07911 100001,,,\n")
    assert "the limit is" in response.context["form"].errors["file"][0]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"col_0": "", "col_1": "first_name"}, "Choose the column that holds the phone numbers."),
        (
            {"col_0": "phone", "col_1": "phone"},
            "Each field can come from one column only: Phone number.",
        ),
    ],
)
def test_the_mapping_page_needs_one_phone_column_and_each_field_once(
    client, marketer_user, form, error
):
    client.force_login(marketer_user)
    upload(client, "phone,mobile\n07911 100001,07911 100002\n")
    job = ImportJob.objects.get()
    response = client.post(
        reverse("contacts:import_map", args=[job.pk]),
        {**form, "has_header": "on", "on_existing": "update"},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [error]
    job.refresh_from_db()
    assert job.mapping == {}


def test_the_mapping_page_refuses_a_file_with_only_a_header(client, marketer_user):
    client.force_login(marketer_user)
    upload(client, "phone,first name\n")
    job = ImportJob.objects.get()
    response = client.post(
        reverse("contacts:import_map", args=[job.pk]),
        {"col_0": "phone", "has_header": "on", "on_existing": "update"},
    )
    assert "no rows of contacts" in response.context["form"].non_field_errors()[0]


def test_the_mapping_page_inspects_a_file_stored_some_other_way(client, marketer_user):
    from django.core.files.base import ContentFile

    job = ImportJob(original_name="people.csv")
    job.file.save("people.csv", ContentFile(b"mobile;name\n07911 100001;Ada\n"))
    client.force_login(marketer_user)
    response = client.get(reverse("contacts:import_map", args=[job.pk]))
    assert response.status_code == 200
    assert response.context["form"].initial["col_0"] == "phone"
    job.refresh_from_db()
    assert job.file_info["delimiter"] == ";"


def test_the_mapping_page_sends_back_to_upload_when_the_file_is_unreadable(client, marketer_user):
    from django.core.files.base import ContentFile

    job = ImportJob(original_name="x.csv")
    job.file.save("x.csv", ContentFile(b""))
    client.force_login(marketer_user)
    response = client.get(reverse("contacts:import_map", args=[job.pk]))
    assert response.url == reverse("contacts:import_upload")


def test_it_shows_a_failed_import_with_its_reason(client, marketer_user):
    job = make_job(HEADER + "07911 100001,,,\n")
    ImportJob.objects.filter(pk=job.pk).update(
        mapping={"0": "phone"},
        status=JobStatus.FAILED,
        error="The file is not cp1252 text after line 9.",
    )
    client.force_login(marketer_user)
    response = client.get(reverse("contacts:import_detail", args=[job.pk]))
    assert b"The import failed." in response.content
    assert b"after line 9" in response.content
    assert b"hx-trigger" not in response.content


def test_support_gets_403_and_anonymous_goes_to_sign_in(client, support_user):
    job = make_job(HEADER + "07911 100001,,,\n")
    urls = [reverse("contacts:import_upload")] + [
        reverse(name, args=[job.pk])
        for name in (
            "contacts:import_map",
            "contacts:import_detail",
            "contacts:import_progress",
            "contacts:import_errors",
        )
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url
    client.force_login(support_user)
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert upload(client, HEADER + "07911 100002,,,\n").status_code == 403
    assert ImportJob.objects.count() == 1


# -- a real worker ----------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_runs_an_import_in_a_real_worker_to_done(settings, marketer_user):
    from smsworks.celery import app
    from tests.processes import celery_worker, wait_for

    settings.MEDIA_ROOT = os.environ["MEDIA_ROOT"]  # what the worker process reads
    app.control.purge()
    club = ContactList.objects.create(name="Club")
    content = (
        HEADER
        + "".join(f"07911 1{i:05d},N{i},L,\n" for i in range(12_000))
        + "020 7946 0018,Land,,\n"
    )
    job = make_job(content, user=marketer_user)
    try:
        with celery_worker() as worker:
            with transaction.atomic():
                imports.import_start(
                    job=job,
                    mapping={"0": "phone", "1": "first_name", "2": "last_name"},
                    has_header=True,
                    list_ids=[club.pk],
                    on_existing="update",
                    consent_source="Web form",
                )
            seen = []

            def finished() -> bool:
                job.refresh_from_db()
                seen.append(job.rows_done)
                return job.status in (JobStatus.DONE, JobStatus.FAILED)

            wait_for(finished, timeout=120, interval=0.2, what="the import to finish")
            assert worker.poll() is None
        assert (job.status, job.error) == (JobStatus.DONE, "")
        assert counts(job) == (12_000, 0, 0, 1, 0)
        assert job.rows_done == job.rows_total == 12_001
        assert club.contacts.count() == 12_000
        assert ConsentEvent.objects.filter(source="import").count() == 12_000
        assert report(job)[0]["line"] == "12002"
    finally:
        for name in (job.file.name, f"imports/errors/import-{job.pk}-errors.csv"):
            imports.default_storage.delete(name)


def test_the_writer_encodes_custom_values_once_and_keeps_true_and_1_apart():
    if connection.vendor != "postgresql":
        pytest.skip("the COPY writer")
    writer = imports.PostgresWriter(make_job(HEADER), [])
    assert writer._json({"a": True}) == '{"a": true}'
    assert writer._json({"a": 1}) == '{"a": 1}'
    assert writer._json({"a": 1.0}) == '{"a": 1.0}'
    assert writer._json({"a": ["x"]}) == '{"a": ["x"]}'  # not a key: encoded each time
    assert writer._json({}) == "{}"
    assert len(writer.encoded) == 3
    writer.close()
