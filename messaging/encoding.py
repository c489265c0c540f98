"""SMS encoding and segment arithmetic (GSM 03.38 / UCS-2), and smart encoding.

Pure functions, no Django: called for every message of a campaign, so the tables
are built once at import and a GSM-only body never leaves C-level loops.
Counts follow Twilio's segment calculator (TwilioDevEd/message-segment-calculator).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

__all__ = [
    "GSM_7",
    "GSM_BASIC",
    "GSM_CHARACTERS",
    "GSM_EXTENSION",
    "SMART_REPLACEMENTS",
    "UCS_2",
    "Analysis",
    "Encoding",
    "SmartResult",
    "analyze",
    "is_gsm",
    "smart_encode",
]

Encoding = Literal["GSM-7", "UCS-2"]
GSM_7: Final = "GSM-7"
UCS_2: Final = "UCS-2"

# The 127 printable positions of the GSM 03.38 default alphabet (0x1B is the escape, not a char).
GSM_BASIC: Final = frozenset(
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\u00c6\u00e6\u00df\u00c9"
    " !\"#\u00a4%&'()*+,-./0123456789:;<=>?"
    "\u00a1ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"
    "\u00bfabcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0"
)
# Reached through the escape septet, so each costs two septets.
GSM_EXTENSION: Final = frozenset("\f^{}\\[~]|\u20ac")
GSM_CHARACTERS: Final = GSM_BASIC | GSM_EXTENSION


def _char_class(chars: Iterable[str], *, negate: bool = False) -> str:
    return "[" + ("^" if negate else "") + re.escape("".join(sorted(chars))) + "]"


_GSM_SINGLE, _GSM_MULTI = 160, 153
_UCS_SINGLE, _UCS_MULTI = 70, 67
_EXTENSION_RE: Final = re.compile(_char_class(GSM_EXTENSION))
_NON_BASIC_RE: Final = re.compile(_char_class(GSM_BASIC, negate=True))
_NON_GSM_RE: Final = re.compile(_char_class(GSM_CHARACTERS, negate=True))
_ASTRAL_RE: Final = re.compile("[\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class Analysis:
    encoding: Encoding
    segments: int
    units: int
    characters: int
    unicode_characters: list[str]
    units_per_segment: int
    remaining: int

    @property
    def is_multipart(self) -> bool:
        return self.segments > 1


@dataclass(frozen=True, slots=True)
class SmartResult:
    text: str
    replacements: list[tuple[str, str]]


def is_gsm(body: str) -> bool:
    return _NON_GSM_RE.search(body) is None


def analyze(body: str) -> Analysis:
    """Encoding, cost and segment count of ``body`` as the carrier will bill it.

    ``remaining`` is what is left in the last segment; an empty body has 0 segments
    and the whole single-segment capacity remaining.
    """
    if not body:
        return Analysis(GSM_7, 0, 0, 0, [], _GSM_SINGLE, _GSM_SINGLE)
    # One C-level scan; a typical body has no match at all.
    specials = _NON_BASIC_RE.findall(body)
    if GSM_EXTENSION.issuperset(specials):
        encoding: Encoding = GSM_7
        units = len(body) + len(specials)
        single, multi, wide = _GSM_SINGLE, _GSM_MULTI, _EXTENSION_RE
        unicode_characters: list[str] = []
    else:
        encoding = UCS_2
        units = len(body.encode("utf-16-le", "surrogatepass")) // 2
        single, multi, wide = _UCS_SINGLE, _UCS_MULTI, _ASTRAL_RE
        unicode_characters = [c for c in dict.fromkeys(specials) if c not in GSM_EXTENSION]

    if units <= single:
        segments, per, used = 1, single, units
    else:
        per = multi
        used = units
        if units != len(body):
            used += _padding(wide.finditer(body), multi)
        segments = -(-used // multi)
    return Analysis(
        encoding=encoding,
        segments=segments,
        units=units,
        characters=len(body),
        unicode_characters=unicode_characters,
        units_per_segment=per,
        remaining=segments * per - used,
    )


def _padding(wide_chars: Iterable[re.Match[str]], per_segment: int) -> int:
    """Units left empty so that no two-unit char (escape or surrogate pair) straddles segments."""
    padding = 0
    for earlier_wide, match in enumerate(wide_chars):
        offset = match.start() + earlier_wide + padding
        if offset % per_segment == per_segment - 1:
            padding += 1
    return padding


# Control characters are invisible in a handset but would silently force UCS-2.
_INVISIBLE: Final = "\u00ad\u180e\u200b\u2060\ufeff" + "".join(
    map(chr, [*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), *range(0x7F, 0x85), *range(0x86, 0xA0)])
)

# Replacement -> look-alikes. Only characters that read the same: accented letters
# are left alone because dropping an accent changes the word.
_LOOKALIKES: Final[dict[str, str]] = {
    '"': "\u00ab\u00bb\u201c\u201d\u201e\u201f\u2033\u02ba\u02ee\u275d\u275e\u301d\u301e",
    "'": "\u2018\u2019\u201b\u2032\u02b9\u02bb\u02bc\u02bd\u02c8\u02ca\u02cb\u00b4`"
    "\u275b\u275c\ufe10\ufe11\uff40",
    ",": "\u201a\u3001\uff64",
    ".": "\u3002\uff61",
    # Dashes, the minus sign, and bullets (a list pasted from a document).
    "-": "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u23bc\u23bd\ufe58"
    "\u2022\u2023\u2219\u25aa\u25cf\u25e6",
    "_": "\u2017",
    "/": "\u00f7\u2044\u2215\u29f8",
    "\\": "\u29f5\u29f9",
    "|": "\u2223\u23b8\u23b9\u23d0",
    "*": "\u204e\u2217\u2731\u2733",
    "~": "\u02dc\u02f7\u223c",
    "^": "\u02c6",
    ":": "\u02d0\u02f8\ua789",
    "<": "\u2039",
    ">": "\u203a",
    "1/4": "\u00bc",
    "1/2": "\u00bd",
    "3/4": "\u00be",
    " ": "\t\u2028\u2029",
    "\n": "\u0085",
    "": _INVISIBLE,
}

# Compatibility forms whose NFKC form is plain GSM text: unicode spaces, ellipsis,
# double punctuation, fullwidth and small-form ASCII.
_COMPAT_RANGES: Final = (
    (0x00A0, 0x00A0),
    (0x2000, 0x200A),
    (0x2024, 0x2026),
    (0x202F, 0x202F),
    (0x203C, 0x203C),
    (0x2047, 0x2049),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
    (0xFE50, 0xFE6B),
    (0xFF01, 0xFF5E),
)


def _build_smart_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for first, last in _COMPAT_RANGES:
        for code_point in range(first, last + 1):
            char = chr(code_point)
            compat = unicodedata.normalize("NFKC", char)
            if compat != char and compat and GSM_CHARACTERS.issuperset(compat):
                table[char] = compat
    for replacement, lookalikes in _LOOKALIKES.items():
        table.update(dict.fromkeys(lookalikes, replacement))
    # Never touch a GSM character, never introduce a non-GSM one.
    return {
        char: replacement
        for char, replacement in table.items()
        if char not in GSM_CHARACTERS and GSM_CHARACTERS.issuperset(replacement)
    }


SMART_REPLACEMENTS: Final[Mapping[str, str]] = MappingProxyType(_build_smart_table())
_SMART_TRANSLATION: Final = str.maketrans(dict(SMART_REPLACEMENTS))


def smart_encode(body: str) -> SmartResult:
    """Replace look-alike characters (curly quotes, dashes, unicode spaces...) by GSM ones.

    The result may still be UCS-2 when ``body`` holds characters with no GSM twin.
    """
    used = [
        (c, SMART_REPLACEMENTS[c])
        for c in dict.fromkeys(_NON_GSM_RE.findall(body))
        if c in SMART_REPLACEMENTS
    ]
    if not used:
        return SmartResult(body, [])
    return SmartResult(body.translate(_SMART_TRANSLATION), used)
