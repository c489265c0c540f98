"""contacts.phone.checked: one parse gives the E.164 number and its country."""

import phonenumbers
import pytest

from contacts import phone as phones


@pytest.mark.parametrize(
    ("raw", "e164", "country"),
    [
        ("07912 345123", "+447912345123", "GB"),
        ("0044 7912 345123", "+447912345123", "GB"),
        ("+44 7624 123456", "+447624123456", "IM"),  # a Crown dependency shares +44
        ("+1 415 555 2671", "+14155552671", "US"),
        ("+1 604 555 0123", "+16045550123", "CA"),  # and Canada shares +1
        ("+39 02 1234 5678", "+390212345678", "IT"),  # a leading zero kept
        ("+39 06 6982 1234", "+390669821234", "VA"),  # and the Vatican shares Rome's
        ("+800 1234 5678", "+80012345678", "001"),  # a non-geographic number
    ],
)
def test_it_gives_the_number_and_the_country_a_second_parse_would(raw, e164, country):
    number = phones.checked(raw)

    assert (number, number.country) == (e164, country)
    assert phones.normalize(raw) == e164 and type(phones.normalize(raw)) is str
    # The country the slow way: a fresh parse of the E.164 text.
    assert phones.country_of(str(number)) == country
    assert phonenumbers.region_code_for_number(phonenumbers.parse(e164)) == country
    assert phones.checked(number) is number  # already checked: not parsed again


@pytest.mark.parametrize(("raw", "reason"), [("", "no number"), ("12", "not"), ("+4479", "not")])
def test_it_refuses_what_is_not_a_valid_number(raw, reason):
    with pytest.raises(phones.InvalidNumber, match=reason):
        phones.checked(raw)
    with pytest.raises(phones.InvalidNumber, match=reason):
        phones.normalize(raw)


def test_an_invalid_number_in_a_valid_country_code_is_refused_as_before():
    # +44 20 1234: parses, but no region's rules accept it.
    with pytest.raises(phones.InvalidNumber, match="not a valid number"):
        phones.checked("+44 20 1234")
    assert not phonenumbers.is_valid_number(phonenumbers.parse("+44 20 1234"))
