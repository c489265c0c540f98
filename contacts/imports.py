"""Contact imports: a CSV or XLSX file read as a stream, every row checked in Python,
the good rows written set-based in chunks. The phases:

1. ``import_create`` stores the upload and inspects it (format, encoding, delimiter,
   an estimate of the rows) or refuses it with a message for the user.
2. ``import_start`` records the column mapping and options and enqueues the task.
3. ``import_run`` (the task) reads the file chunk by chunk; each chunk is one
   transaction that writes the contacts, list memberships and consent events and
   moves the job's counters, so the progress bar shows committed work only.

On PostgreSQL a chunk is COPYed into a temporary table and merged with one
``INSERT ... ON CONFLICT``; a second thread does that while the next chunk is read
and checked, so Python and the database work at the same time. SQLite (the demo
database) takes a plain ORM path. Numbers already seen in the file are remembered in
a temporary table, not in Python, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import phonenumbers
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from phonenumbers import PhoneMetadata, PhoneNumberType

from contacts import phone as phones
from contacts.models import (
    ConsentEvent,
    Contact,
    ContactList,
    CustomField,
    ImportJob,
    JobStatus,
    ListMembership,
    Source,
    Suppression,
)
from contacts.services import custom_value

log = logging.getLogger(__name__)

CHUNK_ROWS = 5_000
MAX_COLUMNS = 200
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
# The task's limits (contacts.tasks); a job running longer than this is dead.
TIME_LIMIT_SECONDS = 3 * 3600
# A chunk takes seconds: a running job with no commit for this long lost its worker.
STALE_AFTER_SECONDS = 15 * 60
SAMPLE_BYTES = 64 * 1024
FORMULA_START = ("=", "+", "-", "@")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_CUSTOM_TEXT = 500
FIELD_LABELS = {
    "phone": "Phone number",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
}
HEADER_GUESSES = {
    "phone": {
        "phone", "mobile", "number", "phone number", "mobile number", "mobile phone",
        "cell", "cell phone", "cellphone", "msisdn", "tel", "telephone", "telephone number",
    },
    "first_name": {"first name", "firstname", "first", "forename", "given name", "name first"},
    "last_name": {"last name", "lastname", "surname", "family name", "last", "name last"},
    "email": {"email", "e mail", "email address", "e mail address", "mail"},
}  # fmt: skip


class ImportFileError(Exception):
    """The file cannot be imported at all; the message is for the person importing."""


# -- reading files ----------------------------------------------------------------------


def max_upload_bytes() -> int:
    return int(getattr(settings, "CONTACTS_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def inspect_file(path: Path) -> dict[str, Any]:
    """Format, encoding, delimiter and a row estimate, or ImportFileError saying why not."""
    with open(path, "rb") as f:
        head = f.read(SAMPLE_BYTES)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ImportFileError("The file is empty.")
    if head.startswith(b"PK\x03\x04"):
        return _inspect_xlsx(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            "This is an old Excel file (.xls). Open it in Excel and save it as an Excel "
            "Workbook (.xlsx) or as CSV UTF-8, then upload that."
        )
    if head.startswith(b"%PDF"):
        raise ImportFileError("This is a PDF, not a spreadsheet. Upload a CSV or .xlsx file.")
    encoding, rows = _scan_text(path, head)
    sample = head.decode(encoding, errors="ignore")
    if encoding.startswith("utf-8"):
        sample = sample.lstrip("\ufeff")
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > len(sample) / 100:
        raise ImportFileError(
            "This file is not a spreadsheet (it holds binary data). Upload a CSV or .xlsx file."
        )
    delimiter = _sniff_delimiter(sample)
    info = {"format": "csv", "encoding": encoding, "delimiter": delimiter, "rows": rows}
    first = next(iter(read_rows(path, info)), [])
    if len(first) > MAX_COLUMNS:
        raise ImportFileError(
            f"The file has {len(first)} columns; at most {MAX_COLUMNS} can be read."
        )
    return info


def _scan_text(path: Path, head: bytes) -> tuple[str, int]:
    """Reads the whole file once: is it UTF-8 throughout, and how many lines has it."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        with open(path, "rb") as f:
            return "utf-16", sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
    if b"\x00" in head:
        raise ImportFileError(
            "This file is not a spreadsheet (it holds binary data, or it is UTF-16 text "
            "without a byte-order mark). Save it as CSV UTF-8 and upload it again."
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = last = 0
    bad_line = 0  # the first line that is not UTF-8
    seen_utf8 = cp1252_undefined = False  # UTF-8 letters anywhere; bytes cp1252 lacks
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            if not bad_line:
                try:
                    seen_utf8 = not decoder.decode(block).isascii() or seen_utf8
                except UnicodeDecodeError as exc:
                    bad_line = lines + block[: exc.start].count(b"\n") + 1
                    seen_utf8 = seen_utf8 or not block[: exc.start].isascii()
            if bad_line and not seen_utf8:
                seen_utf8 = UTF8_LETTER.search(block) is not None
            cp1252_undefined = cp1252_undefined or CP1252_UNDEFINED.search(block) is not None
            lines += block.count(b"\n")
            last = block[-1]
    if not bad_line:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            bad_line = lines + 1
    rows = lines + (0 if last == ord("\n") else 1)
    if not bad_line:
        return ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"), rows
    if seen_utf8:
        raise ImportFileError(
            f"The file mixes text encodings: line {bad_line:,} is not UTF-8 but other lines "
            "are. Open it in your spreadsheet, save it as CSV UTF-8 and upload it again."
        )
    # Not UTF-8 at all: the usual export of Excel in Western Europe and the Americas.
    return ("latin-1" if cp1252_undefined else "cp1252"), rows


# An accented letter as UTF-8 (two bytes) would be two odd symbols in Windows-1252.
UTF8_LETTER = re.compile(rb"[\xc3\xc5][\x80-\xbf]")
CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


def _sniff_delimiter(sample: str) -> str:
    lines = sample.splitlines()[:50]
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end mid-line
    best, best_score = ",", (0.0, 1)
    for candidate in (",", ";", "\t", "|"):
        widths = [len(row) for row in csv.reader(lines, delimiter=candidate) if row]
        if not widths or max(widths) < 2:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common) / len(widths), common)
        if common > 1 and score > best_score:
            best, best_score = candidate, score
    return best


def _inspect_xlsx(path: Path) -> dict[str, Any]:
    import openpyxl

    try:
        with open(path, "rb") as f:
            book = openpyxl.load_workbook(f, read_only=True, data_only=True)
            try:
                if not book.worksheets:
                    raise ImportFileError("The workbook has no worksheet.")
                sheet = book.worksheets[0]
                rows = sheet.max_row or 0
                first = next(sheet.iter_rows(max_row=1, values_only=True), ())
                name = sheet.title
            finally:
                book.close()
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(
            "This is a ZIP file but not an Excel workbook (.xlsx) that can be read."
        ) from exc
    if not any(v not in (None, "") for v in first):
        raise ImportFileError("The first row of the first worksheet is empty.")
    if len(first) > MAX_COLUMNS:
        raise ImportFileError(
            f"The sheet has {len(first)} columns; at most {MAX_COLUMNS} can be read."
        )
    return {"format": "xlsx", "sheet": name, "rows": rows}


def read_rows(path: Path, info: dict[str, Any]) -> Iterator[list[str]]:
    """Every row of the file, header included, as lists of text; one row in memory."""
    if info["format"] == "xlsx":
        yield from _read_xlsx(path)
        return
    with open(path, encoding=info["encoding"], newline="", errors="strict") as text:
        reader = csv.reader(text, delimiter=info["delimiter"])
        while True:
            try:
                yield next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                # A broken quote or a huge field: this row is unreadable, the rest may be fine.
                yield [_UNREADABLE, str(exc)]
            except UnicodeDecodeError as exc:
                raise ImportFileError(
                    f"The file is not {info['encoding']} text after line {reader.line_num:,}."
                ) from exc


_UNREADABLE = "\x00unreadable"


def _read_xlsx(path: Path) -> Iterator[list[str]]:
    import openpyxl

    with open(path, "rb") as f:
        book = openpyxl.load_workbook(f, read_only=True, data_only=True)
        try:
            for values in book.worksheets[0].iter_rows(values_only=True):
                yield [_cell_text(v) for v in values]
        finally:
            book.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        # Excel keeps long numbers (phone numbers typed as numbers) as floats.
        return str(int(value))
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def preview(path: Path, info: dict[str, Any], rows: int = 6) -> list[list[str]]:
    found = []
    for row in read_rows(path, info):
        found.append(row)
        if len(found) >= rows:
            break
    return found


# -- mapping ----------------------------------------------------------------------------


def field_choices(custom_fields: list[CustomField]) -> list[tuple[str, str]]:
    return [
        ("", "— Do not import —"),
        *FIELD_LABELS.items(),
        *((f"custom:{f.key}", f"{f.label} (custom field)") for f in custom_fields),
    ]


def _header_key(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def guess_mapping(
    header: list[str], custom_fields: list[CustomField], rows: list[list[str]] = ()
) -> dict[str, str]:
    """Column index (as text) -> field, from the column names, each field used once;
    without a phone column by name, the first column whose cells look like numbers."""
    guesses: dict[str, str] = {}
    custom = {}
    for f in custom_fields:
        custom[_header_key(f.key)] = custom[_header_key(f.label)] = f"custom:{f.key}"
    for index, name in enumerate(header):
        key = _header_key(name)
        found = next((f for f, names in HEADER_GUESSES.items() if key in names), None)
        found = found or custom.get(key)
        if found is None and re.search(r"\b(mobile|phone|cell)\b", key):
            found = "phone"
        if found and found not in guesses.values():
            guesses[str(index)] = found
    if "phone" not in guesses.values() and rows:
        width = max(len(row) for row in rows)
        for index in range(width):
            cells = [row[index] for row in rows if index < len(row) and row[index].strip()]
            if cells and str(index) not in guesses and not looks_like_header(cells):
                guesses[str(index)] = "phone"
                break
    return guesses


def looks_like_header(row: list[str]) -> bool:
    """A first row with no cell that looks like a phone number is taken for column names."""
    return not any(sum(ch.isdigit() for ch in cell) >= 7 for cell in row)


# -- checking rows ----------------------------------------------------------------------


class Row(NamedTuple):
    line: int
    phone: str
    first_name: str
    last_name: str
    email: str
    custom: dict[str, Any]
    country: str
    time_zone: str
    raw_phone: str


class RowError(Exception):
    def __init__(self, column: str, value: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


class RowChecker:
    """Turns one row of cells into a Row, or raises RowError with the reason."""

    def __init__(self, mapping: dict[str, str], custom_fields: list[CustomField]) -> None:
        by_field = {name: int(index) for index, name in mapping.items() if name}
        if "phone" not in by_field:
            raise ImportFileError("No column is mapped to the phone number.")
        self.phone_at = by_field["phone"]
        self.text_at = [
            (name, by_field[name], limit)
            for name, limit in (("first_name", 150), ("last_name", 150), ("email", 254))
            if name in by_field
        ]
        fields = {f.key: f for f in custom_fields}
        self.custom_at = [
            (fields[key].key, index, _custom_parser(fields[key]))
            for name, index in by_field.items()
            if name.startswith("custom:") and (key := name.removeprefix("custom:")) in fields
        ]
        self.region = settings.PHONE_DEFAULT_REGION
        self.zones: dict[tuple[int, str], str] = {}

    def check(self, line: int, cells: list[str]) -> Row:
        width = len(cells)
        raw = cells[self.phone_at].strip() if self.phone_at < width else ""
        if not raw:
            raise RowError("phone", raw, "no phone number")
        phone, country, zone = self._mobile(raw)
        values = {"first_name": "", "last_name": "", "email": ""}
        for name, index, limit in self.text_at:
            if index < width and (value := cells[index].strip()):
                values[name] = _text(name, value, limit)
        if values["email"] and not EMAIL_RE.match(values["email"]):
            raise RowError("email", values["email"], "not an email address")
        custom = {}
        for key, index, parse in self.custom_at:
            if index < width and (value := cells[index].strip()):
                custom[key] = parse(value)
        return Row(
            line,
            phone,
            values["first_name"],
            values["last_name"],
            values["email"],
            custom,
            country,
            zone,
            raw,
        )

    def _mobile(self, raw: str) -> tuple[str, str, str]:
        """E.164, country and time zone of a mobile number, or RowError.

        The rules of contacts.phone (parse, is_mobile, country_of, time_zone_of) in one
        pass: the number is parsed once and classified once, which halves an import's
        time. tests/contacts/test_import.py checks that both always agree."""
        text = raw.removeprefix("'")  # how exports keep a spreadsheet from reading "+44..."
        if not text:
            raise RowError("phone", raw, "no number given")
        if text.startswith("00"):
            text = "+" + text[2:]
        try:
            number = phonenumbers.parse(text, self.region)
        except phonenumbers.NumberParseException as exc:
            raise RowError("phone", raw, f"not a phone number ({exc._msg})") from None
        code = number.country_code
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
        if len(regions) == 1:
            region = regions[0]
        else:  # several regions share the code (+44: GB, GG, IM, JE): ask the number
            region = phonenumbers.region_code_for_number(number)
        # number_type is UNKNOWN exactly when is_valid_number is False.
        kind = _number_type(number, region)
        if kind == PhoneNumberType.UNKNOWN:
            raise RowError("phone", raw, "not a valid number")
        if kind not in MOBILE_KINDS:
            what = "a landline" if kind == PhoneNumberType.FIXED_LINE else "not a mobile"
            raise RowError("phone", raw, f"{what} number: texts cannot reach it")
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        # Non-geographic numbers (satellite phones) have region "001": no country.
        country = region if region and region != "001" else ""
        if phonenumbers.is_number_type_geographical(kind, code):
            return e164, country, phones.time_zone_of(e164)
        # A non-geographic number's zone depends on its country alone: ask once per country.
        key = (code, country)
        if key not in self.zones:
            self.zones[key] = phones.time_zone_of(e164)
        return e164, country, self.zones[key]


# What contacts.phone.is_mobile accepts (some regions cannot tell mobiles from landlines).
MOBILE_KINDS = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _number_type(number: phonenumbers.PhoneNumber, region: str | None) -> int:
    """phonenumbers.number_type for a number whose region is known already: that function
    works the region out again, which for +44 costs as much as the type itself."""
    if _type_in_region is None or region is None:
        return phonenumbers.number_type(number)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(number.country_code, region)
    if metadata is None:
        return PhoneNumberType.UNKNOWN
    return _type_in_region(phonenumbers.national_significant_number(number), metadata)


try:  # private, so optional: without it number_type does the same, a little slower
    from phonenumbers.phonenumberutil import _number_type_helper as _type_in_region
except ImportError:  # pragma: no cover
    _type_in_region = None


def _text(name: str, value: str, limit: int) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "")
    if len(value) > limit:
        raise RowError(name, value, f"longer than {limit} characters ({len(value):,})")
    if value.startswith(FORMULA_START) and len(value) > 1 and not _is_number(value):
        raise RowError(name, value, f"looks like a spreadsheet formula (starts with {value[0]})")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


DATE_FORMATS = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y")
US_DATE_FORMATS = ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y")


def _custom_parser(f: CustomField) -> Callable[[str], Any]:
    """A function from a cell to the field's value (RowError when it does not fit):
    contacts.services.custom_value, with the common cases looked up in a table."""
    column = f"custom:{f.key}"

    def by_services(value: str) -> Any:
        try:
            return custom_value(f, value)
        except ValidationError as exc:
            raise RowError(column, value, " ".join(exc.messages)) from None

    if f.kind == CustomField.Kind.TEXT:
        return lambda value: _text(column, value, MAX_CUSTOM_TEXT)
    if f.kind in (CustomField.Kind.CHOICE, CustomField.Kind.BOOLEAN):
        if f.kind == CustomField.Kind.CHOICE:  # any capitalisation of a choice
            known = {str(c).lower(): c for c in reversed(f.choices)}
        else:
            known = {w: True for w in ("1", "true", "yes", "y", "on")}
            known |= {w: False for w in ("0", "false", "no", "n", "off")}

        def from_table(value: str) -> Any:
            found = known.get(value.lower(), known)
            return by_services(value) if found is known else found

        return from_table
    if f.kind == CustomField.Kind.NUMBER:

        def number(value: str) -> Any:
            value = value.removeprefix("'")  # what exports put before a negative number
            if value.lower().lstrip("+-") in {"nan", "inf", "infinity"}:
                raise RowError(column, value, f"{f.label}: {value!r} is not a number.")
            return by_services(value)

        return number
    if f.kind == CustomField.Kind.DATE:
        return lambda value: by_services(_iso_date(value))
    return by_services


def _iso_date(value: str) -> str:
    if len(value) >= 10 and value[4] == "-" and value[10:11] in ("", "T", " "):
        return value[:10]
    formats = US_DATE_FORMATS if settings.PHONE_DEFAULT_REGION == "US" else DATE_FORMATS
    for form in formats:
        try:
            return datetime.strptime(value, form).date().isoformat()
        except ValueError:
            continue
    return value


# -- writing chunks ---------------------------------------------------------------------


@dataclass
class Chunk:
    rows: list[Row]
    rows_read: int
    invalid: int


@dataclass
class Written:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)  # line, value, first line


class PostgresWriter:
    """COPY into a temporary table, then one statement per effect. Runs on whatever
    connection the current thread has; the temporary tables live on it."""

    def __init__(self, job: ImportJob, list_ids: list[int]) -> None:
        self.update = job.on_existing == ImportJob.OnExisting.UPDATE
        self.list_ids = list_ids
        self.consent = {"user": job.created_by_id, "note": job.consent_source}
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS contacts_import_rows, contacts_import_seen")
            cursor.execute(
                "CREATE TEMPORARY TABLE contacts_import_rows (line bigint NOT NULL, "
                "phone text NOT NULL, first_name text NOT NULL, last_name text NOT NULL, "
                "email text NOT NULL, custom jsonb NOT NULL, country text NOT NULL, "
                "time_zone text NOT NULL)"
            )
            cursor.execute(
                "CREATE TEMPORARY TABLE contacts_import_seen (phone text PRIMARY KEY, line bigint NOT NULL)"
            )

    def write(self, rows: list[Row]) -> Written:
        written = Written()
        with connection.cursor() as cursor:
            # Losing the last chunks on a database crash is harmless (the job's counters
            # go with them); a larger GIN pending list makes the trigram index far cheaper.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute("SET LOCAL gin_pending_list_limit TO '64MB'")
            cursor.execute("TRUNCATE contacts_import_rows")
            columns = "line, phone, first_name, last_name, email, custom, country, time_zone"
            with cursor.copy(f"COPY contacts_import_rows ({columns}) FROM STDIN") as copy:
                for r in rows:
                    custom = json.dumps(r.custom) if r.custom else "{}"
                    copy.write_row(
                        (
                            r.line,
                            r.phone,
                            r.first_name,
                            r.last_name,
                            r.email,
                            custom,
                            r.country,
                            r.time_zone,
                        )
                    )
            # The first row with a number stays; later ones are duplicates.
            cursor.execute(DEDUPE_SQL)
            duplicates = cursor.fetchall()
            if duplicates:
                cursor.execute(
                    "SELECT phone, line FROM contacts_import_seen WHERE phone = ANY(%s)",
                    [list({phone for _, phone in duplicates})],
                )
                first = dict(cursor.fetchall())
                raw = {r.line: r.raw_phone for r in rows}
                written.duplicates = sorted(
                    (line, raw[line], first[phone]) for line, phone in duplicates
                )
            sql = UPSERT_SQL % (UPDATE_EXISTING if self.update else FIX_OPT_OUT)
            cursor.execute(sql, {
                **self.consent,
                "record_consent": bool(self.consent["note"]),
                "lists": self.list_ids,
            })  # fmt: skip
            written.created, written.updated = cursor.fetchone()
            written.unchanged = len(rows) - len(duplicates) - written.created - written.updated
            if self.list_ids and written.unchanged:
                # Contacts the upsert left alone still join the lists. A statement of
                # its own, so that it also sees contacts other imports just committed.
                cursor.execute(MEMBERSHIP_SQL, [self.list_ids])
        return written

    def close(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS contacts_import_rows, contacts_import_seen")


UPSERT_SQL = """
WITH upserted AS (
    INSERT INTO contacts_contact AS c (phone, first_name, last_name, email, custom, time_zone,
        country, source, opted_out, opted_out_at, created_at, updated_at)
    SELECT r.phone, r.first_name, r.last_name, r.email, r.custom, r.time_zone, r.country,
        'import', s.phone IS NOT NULL, s.created_at, now(), now()
    FROM contacts_import_rows r LEFT JOIN contacts_suppression s ON s.phone = r.phone
    ON CONFLICT (phone) DO UPDATE SET %s
    RETURNING c.id, c.phone, c.opted_out, (c.xmax = 0) AS inserted
), consent AS (
    INSERT INTO contacts_consentevent (phone, contact_id, kind, source, keyword, text,
        user_id, note, created_at)
    SELECT phone, id, 'opt_in', 'import', '', '', %%(user)s, %%(note)s, now()
    FROM upserted WHERE inserted AND NOT opted_out AND %%(record_consent)s
), members AS (
    INSERT INTO contacts_listmembership (contact_list_id, contact_id, added_at)
    SELECT l.id, u.id, now() FROM upserted u CROSS JOIN unnest(%%(lists)s::bigint[]) AS l(id)
    ON CONFLICT DO NOTHING
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""
# Blank cells keep what the contact has; an opt-out is never cleared.
_NEW = {
    "first_name": "COALESCE(NULLIF(EXCLUDED.first_name, ''), c.first_name)",
    "last_name": "COALESCE(NULLIF(EXCLUDED.last_name, ''), c.last_name)",
    "email": "COALESCE(NULLIF(EXCLUDED.email, ''), c.email)",
    "custom": "c.custom || EXCLUDED.custom",
    "country": "COALESCE(NULLIF(c.country, ''), EXCLUDED.country)",
    "time_zone": "COALESCE(NULLIF(c.time_zone, ''), EXCLUDED.time_zone)",
    "opted_out": "c.opted_out OR EXCLUDED.opted_out",
    "opted_out_at": "CASE WHEN c.opted_out THEN c.opted_out_at ELSE EXCLUDED.opted_out_at END",
}
UPDATE_EXISTING = (
    ", ".join(f"{column} = {value}" for column, value in _NEW.items())
    + ", updated_at = now() WHERE c.erased_at IS NULL AND ("
    + ", ".join(f"c.{column}" for column in _NEW)
    + ") IS DISTINCT FROM ("
    + ", ".join(_NEW.values())
    + ")"
)
# "Skip existing" still makes a suppressed number's contact opted out.
FIX_OPT_OUT = (
    "opted_out = true, opted_out_at = EXCLUDED.opted_out_at, updated_at = now() "
    "WHERE EXCLUDED.opted_out AND NOT c.opted_out"
)
DEDUPE_SQL = """
WITH first AS (
    INSERT INTO contacts_import_seen (phone, line)
    SELECT phone, min(line) FROM contacts_import_rows GROUP BY phone
    ON CONFLICT (phone) DO NOTHING
    RETURNING line
)
DELETE FROM contacts_import_rows r WHERE NOT EXISTS (SELECT FROM first f WHERE f.line = r.line)
RETURNING r.line, r.phone
"""
MEMBERSHIP_SQL = """
INSERT INTO contacts_listmembership (contact_list_id, contact_id, added_at)
SELECT l.id, m.contact_id, now()
FROM (SELECT (SELECT c.id FROM contacts_contact c WHERE c.phone = r.phone) AS contact_id
      FROM contacts_import_rows r) m
CROSS JOIN unnest(%s::bigint[]) AS l(id)
WHERE m.contact_id IS NOT NULL
ON CONFLICT DO NOTHING
"""


class OrmWriter:
    """The same effects with the ORM, for SQLite."""

    def __init__(self, job: ImportJob, list_ids: list[int]) -> None:
        self.job, self.list_ids = job, list_ids
        self.update = job.on_existing == ImportJob.OnExisting.UPDATE
        self.seen: dict[str, int] = {}

    def write(self, rows: list[Row]) -> Written:
        written, fresh = Written(), []
        for r in rows:
            first = self.seen.setdefault(r.phone, r.line)
            if first == r.line:
                fresh.append(r)
            else:
                written.duplicates.append((r.line, r.raw_phone, first))
        numbers = [r.phone for r in fresh]
        existing, suppressed = {}, {}
        for start in range(0, len(numbers), 500):
            batch = numbers[start : start + 500]
            existing.update({c.phone: c for c in Contact.objects.filter(phone__in=batch)})
            suppressed.update(
                Suppression.objects.filter(phone__in=batch).values_list("phone", "created_at")
            )
        new = [
            Contact(
                phone=r.phone,
                first_name=r.first_name,
                last_name=r.last_name,
                email=r.email,
                custom=r.custom,
                country=r.country,
                time_zone=r.time_zone,
                source=Source.IMPORT,
                opted_out=r.phone in suppressed,
                opted_out_at=suppressed.get(r.phone),
            )
            for r in fresh
            if r.phone not in existing
        ]
        Contact.objects.bulk_create(new, batch_size=500)
        changed = [
            c for r in fresh if (c := existing.get(r.phone)) and self._merge(c, r, suppressed)
        ]
        now = timezone.now()
        for c in changed:
            c.updated_at = now
        Contact.objects.bulk_update(changed, [*_NEW, "updated_at"], batch_size=500)
        written.created, written.updated = len(new), len(changed)
        written.unchanged = len(fresh) - len(new) - len(changed)
        ids = [c.pk for c in new] + [c.pk for c in existing.values()]
        ListMembership.objects.bulk_create(
            [
                ListMembership(contact_list_id=lid, contact_id=cid)
                for lid in self.list_ids
                for cid in ids
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
        if self.job.consent_source:
            ConsentEvent.objects.bulk_create(
                [
                    ConsentEvent(
                        phone=c.phone,
                        contact=c,
                        kind=ConsentEvent.Kind.OPT_IN,
                        source=Source.IMPORT,
                        user_id=self.job.created_by_id,
                        note=self.job.consent_source,
                    )
                    for c in new
                    if not c.opted_out
                ],
                batch_size=500,
            )
        return written

    def _merge(self, c: Contact, r: Row, suppressed: dict) -> bool:
        before = [getattr(c, name) for name in _NEW]
        if r.phone in suppressed and not c.opted_out:
            c.opted_out, c.opted_out_at = True, suppressed[r.phone]
        if self.update and c.erased_at is None:
            c.first_name = r.first_name or c.first_name
            c.last_name = r.last_name or c.last_name
            c.email = r.email or c.email
            c.custom = {**c.custom, **r.custom}
            c.country = c.country or r.country
            c.time_zone = c.time_zone or r.time_zone
        return before != [getattr(c, name) for name in _NEW]

    def close(self) -> None:
        pass


class Pipeline:
    """Writes chunks, each in its own transaction that also moves the job's counters.

    On PostgreSQL outside a transaction (the worker) the writes run in a second
    thread with its own connection, so that the database merges one chunk while this
    thread reads and checks the next. Inside a transaction (tests, a shell) they run
    here, so that they see what that transaction sees."""

    def __init__(self, job: ImportJob, list_ids: list[int], on_duplicates: Callable) -> None:
        self.job, self.list_ids, self.on_duplicates = job, list_ids, on_duplicates
        self.threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        self.error: BaseException | None = None
        if self.threaded:
            self.queue: queue.Queue[Chunk | None] = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._work, name=f"import-{job.pk}", daemon=True)
            self.thread.start()
        else:
            self.writer = self._writer()

    def _writer(self) -> PostgresWriter | OrmWriter:
        kind = PostgresWriter if connection.vendor == "postgresql" else OrmWriter
        return kind(self.job, self.list_ids)

    def submit(self, chunk: Chunk) -> None:
        if not self.threaded:
            self._write(self.writer, chunk)
            return
        while True:
            self._raise_if_failed()
            try:
                self.queue.put(chunk, timeout=1)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        if self.threaded:
            self.queue.put(None)
            self.thread.join()
            self._raise_if_failed()
        else:
            self.writer.close()

    def abort(self) -> None:
        if self.threaded and self.thread.is_alive():
            self.error = self.error or RuntimeError("stopped")
            with contextlib.suppress(queue.Full):
                self.queue.put_nowait(None)
            self.thread.join(timeout=60)

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def _work(self) -> None:
        writer = None
        try:
            writer = self._writer()
            while (chunk := self.queue.get()) is not None and self.error is None:
                self._write(writer, chunk)
            if writer is not None:
                writer.close()
        except BaseException as exc:
            self.error = exc
            while True:  # let submit() see the error instead of blocking on a full queue
                try:
                    if self.queue.get(timeout=1) is None:
                        break
                except queue.Empty:
                    break
        finally:
            connection.close()

    def _write(self, writer: PostgresWriter | OrmWriter, chunk: Chunk) -> None:
        with transaction.atomic():
            written = writer.write(chunk.rows) if chunk.rows else Written()
            ImportJob.objects.filter(pk=self.job.pk).update(
                rows_done=F("rows_done") + chunk.rows_read,
                created=F("created") + written.created,
                updated=F("updated") + written.updated,
                unchanged=F("unchanged") + written.unchanged,
                invalid=F("invalid") + chunk.invalid,
                duplicate=F("duplicate") + len(written.duplicates),
            )
        _beat(self.job.pk)
        if written.duplicates:
            self.on_duplicates(written.duplicates)


# -- the error report -------------------------------------------------------------------


class ErrorReport:
    """CSV of every rejected row: line, column, value, reason. Written as the import
    goes (two threads add to it), saved next to the upload when anything was rejected."""

    def __init__(self, job: ImportJob) -> None:
        from contacts.exports import neutralise

        self.neutralise = neutralise
        self.name = f"imports/errors/import-{job.pk}-errors.csv"
        self.path = Path(default_storage.path(self.name))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115
        self.csv = csv.writer(self.file, quoting=csv.QUOTE_ALL)
        self.csv.writerow(["line", "column", "value", "reason"])
        self.lock = threading.Lock()
        self.count = 0

    def add(self, line: int, column: str, value: str, reason: str) -> None:
        if len(value) > 200:
            value = value[:200] + "…"
        with self.lock:
            self.csv.writerow([line, column, self.neutralise(value), reason])
            self.count += 1

    def add_duplicates(self, duplicates: list[tuple[int, str, int]]) -> None:
        for line, value, first in duplicates:
            self.add(line, "phone", value, f"duplicate: the same number as line {first:,}")

    def close(self) -> str:
        """The report's storage name, or '' when nothing was rejected."""
        self.file.close()
        if self.count:
            return self.name
        self.path.unlink(missing_ok=True)
        return ""


# -- the job ----------------------------------------------------------------------------


def import_create(*, upload: UploadedFile, user: AbstractBaseUser | None) -> ImportJob:
    """Store and inspect an upload; ImportFileError (and nothing stored) when unusable."""
    if upload.size > max_upload_bytes():
        raise ImportFileError(
            f"The file is {upload.size / 1_048_576:,.1f} MB; the limit is "
            f"{max_upload_bytes() / 1_048_576:,.0f} MB. Split it into smaller files."
        )
    name = default_storage.save(f"imports/{uuid.uuid4().hex}.upload", upload)
    path = Path(default_storage.path(name))
    try:
        info = inspect_file(path)
        first = preview(path, info, rows=1)
        if not first or not any(first[0]):
            raise ImportFileError("The file is empty: its first row has nothing in it.")
    except ImportFileError:
        default_storage.delete(name)
        raise
    except Exception as exc:
        log.exception("could not inspect upload %s", upload.name)
        default_storage.delete(name)
        raise ImportFileError(
            f"This file could not be read as a spreadsheet ({type(exc).__name__}). "
            "Upload a CSV or an Excel .xlsx file."
        ) from exc
    info["has_header"] = looks_like_header(first[0])
    return ImportJob.objects.create(
        file=name,
        original_name=Path(upload.name or "upload").name[:255],
        size=upload.size,
        file_info=info,
        created_by=user if user and user.is_authenticated else None,
    )


def import_start(
    *,
    job: ImportJob,
    mapping: dict[str, str],
    has_header: bool,
    list_ids: list[int],
    on_existing: str,
    consent_source: str,
) -> bool:
    """Record the choices and enqueue the import once; False if it was already started."""
    info = {**job.file_info, "has_header": has_header}
    rows_total = max(int(info.get("rows", 0)) - (1 if has_header else 0), 0)
    with transaction.atomic():
        started = ImportJob.objects.filter(pk=job.pk, status=JobStatus.PENDING, mapping={}).update(
            mapping={k: v for k, v in mapping.items() if v},
            file_info=info,
            list_ids=sorted(set(list_ids)),
            on_existing=on_existing,
            consent_source=consent_source.strip(),
            rows_total=rows_total,
        )
        if started:
            transaction.on_commit(lambda: _enqueue(job.pk))
    return bool(started)


def _enqueue(job_id: int) -> None:
    from contacts import tasks

    try:
        tasks.import_contacts.delay(job_id)
    except Exception:
        log.exception("could not enqueue import %s", job_id)
        _fail(
            job_id,
            "The import could not be handed to a worker (the task queue is unreachable). Try again in a moment.",
        )


def import_run(*, job_id: int) -> None:
    """The task's body: run a started job once. Every failure ends in status failed
    with a reason the person importing can read."""
    claimed = ImportJob.objects.filter(pk=job_id, status=JobStatus.PENDING).exclude(mapping={})
    if not claimed.update(status=JobStatus.RUNNING, started_at=timezone.now()):
        log.info("import %s is not waiting to run; nothing to do", job_id)
        return
    _beat(job_id)
    report = None
    try:
        job = ImportJob.objects.get(pk=job_id)
        report = ErrorReport(job)
        _import(job, report)
    except ImportFileError as exc:
        _fail(job_id, str(exc), report)
    except SoftTimeLimitExceeded:
        hours = TIME_LIMIT_SECONDS // 3600
        _fail(
            job_id,
            f"The import took longer than {hours} hours and was stopped. Split the file into smaller ones.",
            report,
        )
    except Exception as exc:
        log.exception("import %s failed", job_id)
        _fail(job_id, _explain(exc), report)
    except BaseException as exc:  # a worker shutdown
        log.warning("import %s stopped: %r", job_id, exc)
        _fail(job_id, "The import was stopped before it finished (the worker shut down).", report)
        raise
    else:
        ImportJob.objects.filter(pk=job_id).update(
            status=JobStatus.DONE,
            finished_at=timezone.now(),
            rows_total=F("rows_done"),
            error_report=report.close(),
        )


def _import(job: ImportJob, report: ErrorReport) -> None:
    info = job.file_info
    custom_fields = list(CustomField.objects.all())
    checker = RowChecker(job.mapping, custom_fields)
    list_ids = list(ContactList.objects.filter(pk__in=job.list_ids).values_list("pk", flat=True))
    pipeline = Pipeline(job, list_ids, report.add_duplicates)
    rows: list[Row] = []
    read = invalid = 0
    try:
        lines = read_rows(Path(job.file.path), info)
        if info.get("has_header"):
            next(lines, None)
        for line, cells in enumerate(lines, start=2 if info.get("has_header") else 1):
            read += 1
            if cells and cells[0] == _UNREADABLE:
                report.add(line, "", "", f"this line cannot be read ({cells[1]})")
                invalid += 1
            elif any(cells):
                try:
                    rows.append(checker.check(line, cells))
                except RowError as exc:
                    report.add(line, exc.column, exc.value, exc.reason)
                    invalid += 1
            if read == CHUNK_ROWS:
                pipeline.submit(Chunk(rows, read, invalid))
                rows, read, invalid = [], 0, 0
        pipeline.submit(Chunk(rows, read, invalid))
        pipeline.finish()
    except BaseException:
        pipeline.abort()
        raise


def _explain(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"The import stopped on an unexpected error: {type(exc).__name__}{': ' + text if text else ''}."


def _fail(job_id: int, reason: str, report: ErrorReport | None = None) -> None:
    done = ImportJob.objects.filter(pk=job_id).values_list("rows_done", flat=True).first() or 0
    if done:
        reason += (
            f" The first {done:,} rows were processed and their contacts saved. Fix the problem and import the file "
            "again: contacts already imported are updated or skipped, never duplicated."
        )
    ImportJob.objects.filter(pk=job_id).exclude(status=JobStatus.DONE).update(
        status=JobStatus.FAILED,
        error=reason,
        finished_at=timezone.now(),
        error_report=report.close() if report else "",
    )


def import_fail_if_stale(job: ImportJob) -> bool:
    """A running job that has not committed a chunk for a long while died with its
    worker (killed, out of memory): say so instead of showing a progress bar forever.
    Without a heartbeat in the cache, only a job older than the task may run is dead."""
    if job.status != JobStatus.RUNNING or job.started_at is None:
        return False
    now = timezone.now()
    try:
        beat = cache.get(_beat_key(job.pk))
    except Exception:
        beat = None
    if beat is not None:
        stale = now.timestamp() - beat > STALE_AFTER_SECONDS
    else:
        stale = (now - job.started_at).total_seconds() > TIME_LIMIT_SECONDS + 120
    if stale and ImportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED,
        finished_at=now,
        error="The worker running this import stopped without finishing (restarted or out "
        "of memory). Import the file again: contacts already imported are not duplicated.",
    ):
        job.refresh_from_db()
        return True
    return False


def _beat_key(job_id: int) -> str:
    return f"contacts:import:{job_id}:beat"


def _beat(job_id: int) -> None:
    try:
        cache.set(_beat_key(job_id), time.time(), timeout=TIME_LIMIT_SECONDS)
    except Exception:
        log.warning("could not record the progress of import %s", job_id, exc_info=True)


def read_preview(job: ImportJob, rows: int = 6) -> list[list[str]]:
    """The first rows of the job's file; a file stored without import_create (the
    admin, a fixture) is inspected first."""
    if "format" not in job.file_info:
        path = Path(job.file.path)
        info = inspect_file(path)
        first = preview(path, info, rows=1)
        info["has_header"] = bool(first) and looks_like_header(first[0])
        ImportJob.objects.filter(pk=job.pk).update(file_info=info)
        job.file_info = info
    return preview(Path(job.file.path), job.file_info, rows)
