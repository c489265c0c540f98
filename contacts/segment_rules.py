"""The vocabulary of segment rules: an Operator turns a parsed value into a ``Q``
over Contact, a RuleKind is a field with its operators, a ParsedRule is one checked
rule. The value parsers turn a raw form or JSON value into the value stored in the
segment and compiled (or raise ValidationError with a short message).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q

from contacts import phone as phones

CUSTOM_PREFIX = "custom."
# Value inputs the rule editor knows how to draw.
INPUTS = ("none", "text", "number", "date", "days", "choice")
MAX_TEXT = 200
MAX_DAYS = 36500

Choices = list[tuple[str, str]]


@dataclass(frozen=True)
class Operator:
    """One way to compare: ``build(parsed_value) -> Q``.

    ``input`` tells the editor which value widget to draw and picks the default
    parser; ``parse`` overrides it (raise ValidationError with a short message).
    ``merge(values) -> Q`` compiles several rules of this operator on one field,
    joined by ``merge_match`` ("any": OR, "all": AND), to one condition: "first
    name is Ada or first name is Sophie" becomes one ``IN`` the index answers in
    one scan, where PostgreSQL would scan for each side of an OR.
    """

    label: str
    input: str
    build: Callable[[Any], Q]
    parse: Callable[[Any], Any] | None = None
    merge: Callable[[list[Any]], Q] | None = None
    merge_match: str = "any"


@dataclass(frozen=True)
class RuleKind:
    key: str
    label: str
    group: str
    operators: Mapping[str, Operator]
    choices: Callable[[], Choices] | None = None


@dataclass(frozen=True)
class ParsedRule:
    kind: RuleKind
    op: str
    value: Any

    @property
    def operator(self) -> Operator:
        return self.kind.operators[self.op]

    def q(self) -> Q:
        return self.operator.build(self.value)

    def as_json(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"field": self.kind.key, "op": self.op}
        if self.operator.input != "none":
            rule["value"] = self.value
        return rule

    def describe(self) -> str:
        value = self.value
        if self.operator.input == "none":
            return f"{self.kind.label} {self.operator.label}"
        if self.operator.input == "choice" and self.kind.choices is not None:
            # A list can be deleted after a segment was saved with it.
            value = dict(self.kind.choices()).get(str(value), f"{value} (deleted)")
        elif self.operator.input == "days":
            value = f"{value} day{'s' if value != 1 else ''}"
        return f"{self.kind.label} {self.operator.label} {value}"


# -- value parsers: raw form or JSON value -> the value stored and compiled ------------


def parse_text(raw: Any) -> str:
    text = "" if raw is None else str(raw).strip()
    if not text:
        raise ValidationError("Enter a value.")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"Keep the value under {MAX_TEXT} characters.")
    return text


def parse_number(raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise ValidationError(f"{raw!r} is not a number.")
    text = "" if raw is None else str(raw).strip()
    if not text:
        raise ValidationError("Enter a number.")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"{text!r} is not a number.") from None
    if not number.is_finite():
        raise ValidationError(f"{text!r} is not a number.")
    return int(number) if number == number.to_integral_value() else float(number)


def parse_date(raw: Any) -> str:
    text = "" if raw is None else str(raw).strip()
    if not text:
        raise ValidationError("Enter a date.")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValidationError(f"{text!r} is not a date (YYYY-MM-DD).") from None


def parse_days(raw: Any) -> int:
    text = "" if raw is None else str(raw).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise ValidationError(f"Enter a whole number of days from 1 to {MAX_DAYS}.")
    return int(text)


def parse_object_id(raw: Any) -> int:
    text = "" if raw is None else str(raw).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValidationError("Choose one.")
    return int(text)


def _parse_none(raw: Any) -> None:
    return None


def parse_country(raw: Any) -> str:
    text = parse_text(raw).upper()
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise ValidationError(f"{text!r} is not a two-letter country code (GB, US…).")
    return text


def parse_phone(raw: Any) -> str:
    text = parse_text(raw)
    try:
        return phones.normalize(text)
    except phones.InvalidNumber as exc:
        raise ValidationError(f"{text!r} is {exc}.") from None


PARSERS: dict[str, Callable[[Any], Any]] = {
    "none": _parse_none,
    "text": parse_text,
    "number": parse_number,
    "date": parse_date,
    "days": parse_days,
}
