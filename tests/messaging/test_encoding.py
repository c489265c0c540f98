import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.encoding import (
    GSM_BASIC,
    GSM_CHARACTERS,
    GSM_EXTENSION,
    SMART_REPLACEMENTS,
    analyze,
    is_gsm,
    smart_encode,
)

EMOJI = "\U0001f600"
EXTENSION_CHARS = sorted(GSM_EXTENSION)
# Twilio's calculator vectors use this filler.
DIGITS = "1234567890" * 40


def digits(n: int) -> str:
    return DIGITS[:n]


def reference_segments(body: str) -> tuple[int, int]:
    """(segments, remaining) by packing chars one by one, never splitting a two-unit char."""
    if not body:
        return 0, 160
    gsm = all(c in GSM_BASIC or c in GSM_EXTENSION for c in body)
    if gsm:
        widths = [2 if c in GSM_EXTENSION else 1 for c in body]
        single, multi = 160, 153
    else:
        widths = [2 if ord(c) > 0xFFFF else 1 for c in body]
        single, multi = 70, 67
    if sum(widths) <= single:
        return 1, single - sum(widths)
    segments, used = 1, 0
    for width in widths:
        if used + width > multi:
            segments, used = segments + 1, 0
        used += width
    return segments, multi - used


# --- published vectors (Twilio's message-segment-calculator and GSM 03.38) ---


def test_it_has_the_gsm_tables():
    assert len(GSM_BASIC) == 127
    assert sorted(GSM_EXTENSION) == sorted("^{}\\[~]|\u20ac\f")
    assert not GSM_BASIC & GSM_EXTENSION
    assert GSM_CHARACTERS == GSM_BASIC | GSM_EXTENSION


def test_it_reports_an_empty_body():
    analysis = analyze("")

    assert analysis.encoding == "GSM-7"
    assert analysis.segments == 0
    assert analysis.units == 0
    assert analysis.characters == 0
    assert analysis.unicode_characters == []
    assert analysis.remaining == 160


def test_it_fits_160_gsm_characters_in_one_segment():
    analysis = analyze(digits(160))

    assert (analysis.encoding, analysis.segments, analysis.units) == ("GSM-7", 1, 160)
    assert (analysis.units_per_segment, analysis.remaining) == (160, 0)
    assert not analysis.is_multipart


def test_it_splits_161_gsm_characters_into_two_segments():
    analysis = analyze(digits(161))

    assert (analysis.segments, analysis.units, analysis.characters) == (2, 161, 161)
    assert (analysis.units_per_segment, analysis.remaining) == (153, 306 - 161)
    assert analysis.is_multipart


def test_it_fits_306_gsm_characters_in_two_segments_and_307_in_three():
    assert analyze(digits(306)).segments == 2
    assert analyze(digits(306)).remaining == 0
    three = analyze(digits(307))
    assert three.segments == 3
    assert three.remaining == 152


def test_it_counts_the_euro_sign_as_two_septets():
    analysis = analyze("\u20ac")

    assert (analysis.encoding, analysis.units, analysis.characters) == ("GSM-7", 2, 1)
    assert analysis.remaining == 158


@pytest.mark.parametrize("char", EXTENSION_CHARS)
def test_it_counts_extension_chars_against_the_single_segment(char):
    assert analyze(char + digits(158)).segments == 1
    assert analyze(char + digits(159)).segments == 2


def test_it_never_splits_an_escape_pair_at_the_153_boundary():
    pushed = analyze("a" * 152 + "[" + "b" * 10)
    fits = analyze("a" * 151 + "[" + "b" * 10)

    assert pushed.units == 164
    assert pushed.remaining == 306 - 165  # one septet of segment one is left empty
    assert fits.remaining == 306 - 163


def test_it_adds_a_segment_when_an_escape_pair_is_pushed_over():
    # 306 septets would fit two segments, but "[" cannot straddle the boundary.
    analysis = analyze("a" * 152 + "[" + "a" * 152)

    assert analysis.units == 306
    assert analysis.segments == 3
    assert analyze("a" * 153 + "[" + "a" * 151).segments == 2


def test_it_fits_an_emoji_and_68_gsm_characters_in_one_ucs2_segment():
    analysis = analyze(EMOJI + digits(68))

    assert (analysis.encoding, analysis.segments, analysis.units) == ("UCS-2", 1, 70)
    assert (analysis.characters, analysis.units_per_segment, analysis.remaining) == (69, 70, 0)


def test_it_splits_an_emoji_and_69_gsm_characters_into_two_segments():
    analysis = analyze(EMOJI + digits(69))

    assert (analysis.encoding, analysis.segments, analysis.units) == ("UCS-2", 2, 71)
    assert (analysis.units_per_segment, analysis.remaining) == (67, 134 - 71)


def test_it_leaves_one_unit_in_the_third_ucs2_segment():
    analysis = analyze("\U0001f61c" + digits(133))

    assert (analysis.segments, analysis.units, analysis.remaining) == (3, 135, 66)


def test_it_counts_extension_chars_as_one_unit_in_ucs2():
    assert analyze(EMOJI + "]" * 68).segments == 1
    assert analyze(EMOJI + "]" * 69).segments == 2


@pytest.mark.parametrize("char", ["\u00c1", "\u00da", "\u00fa", "\u00e7", "\u00ed", "\u00d3"])
def test_it_fits_70_accented_letters_outside_gsm_in_one_segment(char):
    assert analyze(char * 70).segments == 1
    two = analyze(char * 71)
    assert (two.encoding, two.segments, two.unicode_characters) == ("UCS-2", 2, [char])


def test_it_never_splits_a_surrogate_pair():
    # 134 units would fit two segments, but the emoji cannot straddle the boundary.
    assert analyze("a" * 66 + EMOJI + "a" * 66).segments == 3
    assert analyze("a" * 67 + EMOJI + "a" * 65).segments == 2


def test_it_reports_the_characters_that_forced_ucs2_in_order():
    body = "Caf\u00e9 \u201cnice\u201d " + EMOJI + " \u00e7a \u201cva\u201d \u20ac" + EMOJI

    assert analyze(body).unicode_characters == ["\u201c", "\u201d", EMOJI, "\u00e7"]


def test_it_knows_gsm_bodies():
    assert is_gsm("")
    assert is_gsm("Hello {name}, 5\u20ac off! \u00a3\u00a5\u00e9\u00c7\u0394")
    assert not is_gsm("\u00e7")  # GSM 03.38 has the capital only
    assert not is_gsm("`")
    assert not is_gsm("tab\there")


# --- smart encoding ---


def test_it_smart_encodes_a_ucs2_body_into_gsm7():
    body = "It\u2019s \u201cgreat\u201d \u2014 see you\u2026\u00a0soon \u2022 it\u2019s \u2013 done"

    result = smart_encode(body)

    assert result.text == "It's \"great\" - see you... soon - it's - done"
    assert result.replacements == [
        ("\u2019", "'"),
        ("\u201c", '"'),
        ("\u201d", '"'),
        ("\u2014", "-"),
        ("\u2026", "..."),
        ("\u00a0", " "),
        ("\u2022", "-"),
        ("\u2013", "-"),
    ]
    assert analyze(body).encoding == "UCS-2"
    assert analyze(result.text).encoding == "GSM-7"


def test_it_smart_encodes_fullwidth_and_invisible_characters():
    result = smart_encode("\uff33\uff21\uff2c\uff25\uff01\u200b 50\uff05\tOFF\u3000\u00bd")

    assert result.text == "SALE! 50% OFF 1/2"
    assert is_gsm(result.text)


def test_it_keeps_characters_without_a_gsm_twin():
    result = smart_encode("Hi " + EMOJI + " \u2014 \u00e7a va")

    assert result.text == "Hi " + EMOJI + " - \u00e7a va"
    assert result.replacements == [("\u2014", "-")]
    assert analyze(result.text).unicode_characters == [EMOJI, "\u00e7"]


def test_it_leaves_a_gsm_body_alone():
    body = "Hello {name}, 10\u20ac off today!"

    result = smart_encode(body)

    assert result.text is body
    assert result.replacements == []


def test_it_only_replaces_non_gsm_characters_with_gsm_text():
    assert len(SMART_REPLACEMENTS) > 100
    for char, replacement in SMART_REPLACEMENTS.items():
        assert len(char) == 1
        assert char not in GSM_CHARACTERS, repr(char)
        assert is_gsm(replacement), repr(char)


# --- properties ---

PROPERTY_SETTINGS = settings(database=None, deadline=None, max_examples=300)
SAMPLE_CHARS = [
    *sorted(GSM_BASIC),
    *EXTENSION_CHARS * 4,
    *list(SMART_REPLACEMENTS)[::7],
    EMOJI,
    "\U0001f1ee",
    "\u00e7",
    "\u0416",
    "\u4e2d",
]
chars = st.sampled_from(SAMPLE_CHARS) | st.characters()
fillers = st.sampled_from(["a", "[", "\u20ac", "\u00c1", EMOJI, "a[", "ab" + EMOJI])


@st.composite
def bodies(draw: st.DrawFn) -> str:
    """Short random text around a long run, so segment boundaries get hit."""
    head = draw(st.text(chars, max_size=12))
    filler = draw(fillers) * draw(st.integers(0, 170))
    tail = draw(st.text(chars, max_size=12))
    return head + filler + tail


@PROPERTY_SETTINGS
@given(bodies(), st.text(chars, min_size=1, max_size=5))
def test_it_never_loses_segments_when_text_is_appended(body, extra):
    assert analyze(body + extra).segments >= analyze(body).segments


@PROPERTY_SETTINGS
@given(bodies())
def test_it_counts_units_char_by_char(body):
    analysis = analyze(body)

    if analysis.encoding == "GSM-7":
        expected = sum(2 if c in GSM_EXTENSION else 1 for c in body)
    else:
        expected = sum(2 if ord(c) > 0xFFFF else 1 for c in body)
    assert analysis.units == expected
    assert analysis.characters == len(body)


@PROPERTY_SETTINGS
@given(bodies())
def test_it_uses_gsm7_iff_every_char_is_in_the_gsm_tables(body):
    analysis = analyze(body)
    outside = [c for c in body if c not in GSM_BASIC and c not in GSM_EXTENSION]

    assert (analysis.encoding == "GSM-7") == (not outside) == is_gsm(body)
    assert analysis.unicode_characters == list(dict.fromkeys(outside))


@PROPERTY_SETTINGS
@given(bodies())
def test_it_segments_like_a_greedy_packer(body):
    analysis = analyze(body)

    assert (analysis.segments, analysis.remaining) == reference_segments(body)
    assert 0 <= analysis.remaining < analysis.units_per_segment or not body
    if body:
        # Boundary shifts can only add padding, one unit per segment at most.
        naive = math.ceil(analysis.units / analysis.units_per_segment)
        padded = math.ceil((analysis.units + analysis.segments - 1) / analysis.units_per_segment)
        assert naive <= analysis.segments <= max(naive, padded)
        two_unit_chars = analysis.units != len(body)
        if not two_unit_chars or analysis.segments == 1:
            assert analysis.segments == naive


@PROPERTY_SETTINGS
@given(bodies())
def test_it_smart_encodes_completely_and_idempotently(body):
    result = smart_encode(body)

    assert not set(result.text) & SMART_REPLACEMENTS.keys()
    assert smart_encode(result.text) == type(result)(result.text, [])
    assert [char for char, _ in result.replacements] == list(
        dict.fromkeys(c for c in body if c in SMART_REPLACEMENTS)
    )
    assert result.text == "".join(SMART_REPLACEMENTS.get(c, c) for c in body)
    if all(c in GSM_CHARACTERS or c in SMART_REPLACEMENTS for c in body):
        assert is_gsm(result.text)
