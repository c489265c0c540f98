"""phonenumbers.parse for the way nearly every number in a contact file is written:
digits with spaces, dots, dashes or brackets between them, a "+" only first.

The library spends most of a parse on what such text cannot hold (an RFC 3966
number, an extension, letters, other scripts' digits), normalising it a character at
a time; an import checks a number a row, and that was a third of its reading. For
that text, the library's own steps come down to the ones below, taken on its
digits: the same helpers, in the same order, on the same strings. Anything else,
and anything they would turn down, goes to the library itself, so its answer and
its error message stay the reference (tests/contacts/test_phone_fast.py compares
the two on random and on every example number of the metadata).
"""

from __future__ import annotations

import re

from phonenumbers import PhoneMetadata, PhoneNumber, phonenumberutil
from phonenumbers.phonenumberutil import (
    ValidationResult,
    _extract_country_code,
    _is_valid_region_code,
    _match_national_number,
    _maybe_strip_national_prefix_carrier_code,
    _parse_prefix_as_idd,
    _set_italian_leading_zeros_for_phone_number,
    _test_number_length,
    region_code_for_country_code,
)

PLAIN = re.compile(r"\+?[0-9 ().\-]*")
SEPARATORS = str.maketrans("", "", "+ ().-")
KEEP_NATIONAL_PREFIX = (
    ValidationResult.TOO_SHORT,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ValidationResult.INVALID_LENGTH,
)


def parse(text: str, region: str) -> PhoneNumber:
    """phonenumbers.parse(text, region), and its NumberParseException."""
    return parse_plain(text, region) or phonenumberutil.parse(text, region)


def parse_plain(text: str, region: str) -> PhoneNumber | None:
    """The number of plain text (see the module), or None: ask the library."""
    if len(text) > 250 or not PLAIN.fullmatch(text):
        return None
    digits = text.translate(SEPARATORS)
    # With two digits or fewer the library's check of the raw text and of the
    # digits differ ("1 2" is not a number, "12" may be).
    if len(digits) < 3:
        return None
    if not _is_valid_region_code(region):
        return None  # the library needs a "+" then, and says so
    metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None:
        return None
    from_number = True  # the country code is in the number, not the default region's
    if text[0] == "+":
        country_code, national = _extract_country_code(digits)
    else:
        prefix = metadata.international_prefix
        idd = phonenumberutil.re_compile(prefix if prefix is not None else "NonMatch")
        dialled_abroad, rest = _parse_prefix_as_idd(idd, digits)
        if dialled_abroad:
            if len(rest) <= 2:
                return None
            country_code, national = _extract_country_code(rest)
        else:
            country_code, national = _from_default_country(digits, metadata)
            if not country_code:
                from_number, country_code, national = False, metadata.country_code, digits
    if not country_code:
        return None  # the library explains, or retries without the "+"
    if from_number:
        number_region = region_code_for_country_code(country_code)
        if number_region != region:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(
                country_code, number_region
            )
            if metadata is None:
                return None
    if len(national) < 2:
        return None
    _, potential, _ = _maybe_strip_national_prefix_carrier_code(national, metadata)
    if _test_number_length(potential, metadata) not in KEEP_NATIONAL_PREFIX:
        national = potential
    if not 2 <= len(national) <= 17:
        return None
    number = PhoneNumber(country_code=country_code)
    _set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number


def _from_default_country(digits: str, metadata: PhoneMetadata) -> tuple[int, str]:
    """The library's reading of digits that start with the default region's country
    code without a "+" (447911123456 in GB): (code, rest) when it takes them for one."""
    code = str(metadata.country_code)
    if not digits.startswith(code):
        return 0, ""
    _, potential, _ = _maybe_strip_national_prefix_carrier_code(digits[len(code) :], metadata)
    general = metadata.general_desc
    if (
        not _match_national_number(digits, general, False)
        and _match_national_number(potential, general, False)
    ) or _test_number_length(digits, metadata) == ValidationResult.TOO_LONG:
        return metadata.country_code, potential
    return 0, ""
