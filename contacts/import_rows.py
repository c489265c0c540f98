"""The rows of a contact import: which column holds which field (guessed from the
header, chosen by the person importing), and the check of every row, which turns
its cells into a Row or rejects it with a RowError naming the column and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from phonenumbers import PhoneMetadata, PhoneNumberType

from contacts import phone as phones
from contacts import phone_fast
from contacts.import_files import ImportFileError
from contacts.models import CustomField
from contacts.services import custom_value

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
        pass: the number is parsed once (plain text by contacts.phone_fast) and
        classified once, which halves an import's time. tests/contacts/test_import.py
        checks that both always agree."""
        text = raw.removeprefix("'")  # how exports keep a spreadsheet from reading "+44..."
        if not text:
            raise RowError("phone", raw, "no number given")
        if text.startswith("00"):
            text = "+" + text[2:]
        try:
            number = phone_fast.parse(text, self.region)
        except phonenumbers.NumberParseException as exc:
            raise RowError("phone", raw, f"not a phone number ({exc._msg})") from None
        code = number.country_code
        region, kind = _region_and_type(number)
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


def _region_and_type(number: phonenumbers.PhoneNumber) -> tuple[str | None, int]:
    """phonenumbers.region_code_for_number and number_type in one pass, with the
    metadata's patterns compiled once. Where several regions share a calling code
    (+44: GB, GG, IM, JE) the library finds the region by classifying the number,
    then number_type classifies it again: here the first answer is kept."""
    code = number.country_code
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    nsn = phonenumbers.national_significant_number(number)
    if len(regions) == 1:
        types = _types_of(PhoneMetadata.metadata_for_region_or_calling_code(code, regions[0]))
        return regions[0], types.classify(nsn) if types else PhoneNumberType.UNKNOWN
    for region in regions:
        types = _types_of(PhoneMetadata.metadata_for_region(region.upper(), None))
        if types is None:
            continue
        if types.leading_digits is not None:
            if types.leading_digits.match(nsn):
                return region, types.classify(nsn)
        elif (kind := types.classify(nsn)) != PhoneNumberType.UNKNOWN:
            return region, kind
    return None, phonenumbers.number_type(number)


class _Desc(NamedTuple):
    lengths: frozenset[int]  # empty: any length
    pattern: re.Pattern | None


def _desc(desc: Any) -> _Desc | None:
    if desc is None:
        return None
    pattern = desc.national_number_pattern
    return _Desc(frozenset(desc.possible_length), re.compile(pattern) if pattern else None)


class _NumberTypes:
    """phonenumbers' _number_type_helper for one region's metadata, its patterns
    compiled once (the library looks each one up in re's cache on every call)."""

    SPECIAL = (
        ("premium_rate", PhoneNumberType.PREMIUM_RATE),
        ("toll_free", PhoneNumberType.TOLL_FREE),
        ("shared_cost", PhoneNumberType.SHARED_COST),
        ("voip", PhoneNumberType.VOIP),
        ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
        ("pager", PhoneNumberType.PAGER),
        ("uan", PhoneNumberType.UAN),
        ("voicemail", PhoneNumberType.VOICEMAIL),
    )

    def __init__(self, metadata: PhoneMetadata) -> None:
        self.general = _desc(metadata.general_desc)
        self.special = [(_desc(getattr(metadata, name)), kind) for name, kind in self.SPECIAL]
        self.fixed_line = _desc(metadata.fixed_line)
        self.mobile = _desc(metadata.mobile)
        self.same_mobile_and_fixed_line = metadata.same_mobile_and_fixed_line_pattern
        leading = metadata.leading_digits
        self.leading_digits = re.compile(leading) if leading is not None else None
        # The types tried in the library's order, a mobile on its own only where the
        # region tells mobiles from fixed lines.
        self.in_order = [*self.special, (self.fixed_line, PhoneNumberType.FIXED_LINE)]
        if not self.same_mobile_and_fixed_line:
            self.in_order.append((self.mobile, PhoneNumberType.MOBILE))
        self.by_length: dict[int, tuple[re.Pattern | None, list[int]]] = {}

    def classify(self, nsn: str) -> int:
        if not _matches(nsn, self.general):
            return PhoneNumberType.UNKNOWN
        first, kinds = self._first_type_of_length(len(nsn))
        found = first.fullmatch(nsn) if first is not None else None
        if found is None:
            return PhoneNumberType.UNKNOWN
        kind = kinds[int(found.lastgroup[1:])]
        if kind == PhoneNumberType.FIXED_LINE and (
            self.same_mobile_and_fixed_line or _matches(nsn, self.mobile)
        ):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return kind

    def _first_type_of_length(self, length: int) -> tuple[re.Pattern | None, list[int]]:
        """One pattern for the types a number of this length can be, in order: an
        alternation matches with the first that fits, as trying them one by one does,
        in a single call instead of one a type."""
        known = self.by_length.get(length)
        if known is None:
            parts, kinds = [], []
            for desc, kind in self.in_order:
                if desc is None or desc.pattern is None:
                    continue
                if desc.lengths and length not in desc.lengths:
                    continue
                parts.append(f"(?P<t{len(kinds)}>{desc.pattern.pattern})")
                kinds.append(kind)
            first = re.compile("|".join(parts)) if parts else None
            known = self.by_length[length] = (first, kinds)
        return known


def _matches(nsn: str, desc: _Desc | None) -> bool:
    """phonenumbers' _is_number_matching_desc: the length first, then the whole pattern."""
    if desc is None or (desc.lengths and len(nsn) not in desc.lengths):
        return False
    return desc.pattern is not None and desc.pattern.fullmatch(nsn) is not None


_TYPES: dict[int, tuple[PhoneMetadata, _NumberTypes]] = {}


def _types_of(metadata: PhoneMetadata | None) -> _NumberTypes | None:
    """The compiled types of a region; the library keeps one metadata object per region."""
    if metadata is None:
        return None
    found = _TYPES.get(id(metadata))
    if found is None or found[0] is not metadata:
        found = _TYPES[id(metadata)] = (metadata, _NumberTypes(metadata))
    return found[1]


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
