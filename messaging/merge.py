"""Merge fields: `{{ first_name }}`, `{{ first_name | there }}` (a fallback when the
value is empty) and `{{ link:2 }}` (the recipient's short link to the body's
second URL).

Deliberately not a template engine: a body can only name contact fields, so
nothing in it can reach settings or objects, and rendering a compiled body is a
few string joins (it runs once per message in million-message campaigns).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

TAG = re.compile(r"\{\{\s*([A-Za-z_][\w:-]*)\s*(?:\|\s*([^}]*?)\s*)?\}\}")
STANDARD_FIELDS = ("first_name", "last_name", "full_name", "phone", "email")
# Lengths used when estimating segments before the recipients are known.
TYPICAL_LENGTH = {"first_name": 7, "last_name": 8, "full_name": 16, "phone": 13, "email": 22}
TYPICAL_CUSTOM_LENGTH = 10


@dataclass(frozen=True)
class Part:
    text: str = ""
    field: str = ""  # empty: literal text
    fallback: str = ""


@lru_cache(maxsize=256)
def compile_body(body: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    position = 0
    for match in TAG.finditer(body):
        if match.start() > position:
            parts.append(Part(text=body[position : match.start()]))
        parts.append(Part(field=match.group(1), fallback=match.group(2) or ""))
        position = match.end()
    if position < len(body):
        parts.append(Part(text=body[position:]))
    return tuple(parts)


def fields_in(body: str) -> list[str]:
    return [p.field for p in compile_body(body) if p.field]


def has_tags(body: str) -> bool:
    return "{{" in body and any(p.field for p in compile_body(body))


def render(
    body: str, values: Mapping[str, object], link: Callable[[int], str] | None = None
) -> str:
    """The body for one recipient. Unknown fields render as their fallback."""
    out = []
    for part in compile_body(body):
        if not part.field:
            out.append(part.text)
        elif part.field.startswith("link:"):
            index = part.field[5:]
            out.append(
                link(int(index)) if link and index.isdigit() and 1 <= int(index) <= 9 else ""
            )
        else:
            value = values.get(part.field)
            text = "" if value is None else str(value)
            out.append(text if text.strip() else part.fallback)
    return "".join(out)


def contact_values(contact) -> dict[str, object]:
    values: dict[str, object] = dict(contact.custom or {})
    values.update(
        first_name=contact.first_name,
        last_name=contact.last_name,
        full_name=f"{contact.first_name} {contact.last_name}".strip(),
        phone=contact.phone,
        email=contact.email,
    )
    return values


def typical(body: str, link_length: int = 0) -> str:
    """The body with each field replaced by text of a realistic length, for segment
    estimates before sending (short links at their real length)."""
    out = []
    for part in compile_body(body):
        if not part.field:
            out.append(part.text)
        elif part.field.startswith("link:"):
            out.append("x" * link_length)
        else:
            length = TYPICAL_LENGTH.get(part.field, TYPICAL_CUSTOM_LENGTH)
            # The fallback itself, padded: a non-GSM fallback ("Zoë") must count as UCS-2.
            out.append(part.fallback.ljust(length, "x"))
    return "".join(out)


_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def link_code(message_id: int, index: int) -> str:
    """A short, URL-safe code for a recipient's link: the message id in base 62,
    then the link's index (1-9) as the last character."""
    if not 1 <= index <= 9:
        raise ValueError("a body holds at most nine links")
    digits = []
    n = message_id
    while True:
        n, r = divmod(n, 62)
        digits.append(_ALPHABET[r])
        if n == 0:
            break
    return "".join(reversed(digits)) + str(index)


def parse_link_code(code: str) -> tuple[int, int] | None:
    if len(code) < 2 or not code[-1].isdigit() or code[-1] == "0":
        return None
    n = 0
    for char in code[:-1]:
        position = _ALPHABET.find(char)
        if position < 0:
            return None
        n = n * 62 + position
    return n, int(code[-1])
