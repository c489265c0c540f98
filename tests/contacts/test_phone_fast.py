"""contacts.phone_fast gives phonenumbers.parse's answer, or its error, for any text."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from phonenumbers import NumberParseException, PhoneNumberFormat

from contacts import phone_fast

REGIONS = ["GB", "GG", "US", "CA", "IT", "DE", "FR", "BR", "IN", "AU", "RU", "KZ", "CI", "gb"]


def outcome(parse, text: str, region: str) -> tuple:
    try:
        return ("number", parse(text, region))
    except NumberParseException as exc:
        return ("error", exc.error_type, exc._msg)


def assert_same(text: str, region: str) -> None:
    assert outcome(phone_fast.parse, text, region) == outcome(phonenumbers.parse, text, region), (
        text,
        region,
    )


@pytest.mark.parametrize(
    "text",
    [
        "07400 123456", "+44 7400 123456", "+44 (0)7400 123456", "+44 07400 123456",
        "447400123456", "44 7400 123456", "0044 7400 123456", "(07400) 123-456", "07400.123.456",
        "+39 06 1234 5678", "+390612345678", "0039 06 1234 5678", "+1 (415) 555-2671",
        "001 415 555 2671", "+800 1234 5678", "+0 7400 123456", "+999 123", "123", "12", "1 2",
        "+44", "+4", "0", "00", "000", "0000 1", "7400 123456", "+44 7400 123456 789 012 345 678",
    ],
)  # fmt: skip
@pytest.mark.parametrize("region", ["GB", "US", "IT"])
def test_it_parses_the_usual_ways_of_writing_a_number_as_the_library_does(text, region):
    assert_same(text, region)


def test_it_takes_the_plain_text_itself_and_leaves_the_rest_to_the_library():
    for text in ("07400 123456", "+44 (0)7400 123456", "0044 7400 123456", "447400123456"):
        assert phone_fast.parse_plain(text, "GB") == phonenumbers.parse(text, "GB")
    for text in ("tel:+447400123456", "07400 123456 ext 12", "++44 7400 123456", "1 2", "+4x"):
        assert phone_fast.parse_plain(text, "GB") is None
    assert phone_fast.parse_plain("07400 123456", "ZZ") is None


@hypothesis_settings(max_examples=3000, deadline=None)
@given(
    plus=st.sampled_from(["", "+", "00", "0", "011", "8~10", "(", "+("]),
    body=st.text(alphabet="0123456789 ().-", min_size=0, max_size=22),
    region=st.sampled_from(REGIONS),
)
def test_it_agrees_with_the_library_on_random_text(plus, body, region):
    assert_same(plus + body, region)


@hypothesis_settings(max_examples=1500, deadline=None)
@given(
    prefix=st.sampled_from(["+", "00", ""]),
    code=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
    digits=st.text(alphabet="0123456789", min_size=0, max_size=16),
    region=st.sampled_from(REGIONS),
)
def test_it_agrees_with_the_library_on_every_country_code(prefix, code, digits, region):
    assert_same(f"{prefix}{code}{digits}", region)


def _written(number: phonenumbers.PhoneNumber) -> list[str]:
    forms = [
        phonenumbers.format_number(number, f)
        for f in (
            PhoneNumberFormat.E164,
            PhoneNumberFormat.INTERNATIONAL,
            PhoneNumberFormat.NATIONAL,
        )
    ]
    return [*forms, forms[0].replace("+", "00", 1)]


def test_it_agrees_with_the_library_on_every_example_number_of_the_metadata():
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(phonenumbers.PhoneNumberType.UNKNOWN):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            for text in _written(number):
                for default in {region, "GB", "US"}:
                    assert_same(text, default)
                    checked += 1
    assert checked > 5000
