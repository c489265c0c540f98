"""Segments: saved rules over contacts, compiled to one query.

A rule is ``{"field": <rule kind>, "op": <operator>, "value": <value>}``. A rule
kind is a standard contact field ("first_name"), a custom field ("custom.plan")
or anything registered with ``register_rule`` ("list", "consent"; later the
campaigns app adds "received_campaign", "clicked", "replied" from its
``AppConfig.ready``). Every operator turns a parsed value into a ``Q`` over
Contact, so a whole segment is one WHERE clause and nothing loops over contacts
in Python.

Index notes (PostgreSQL): custom-field equality is JSON containment, served by
the GIN index on ``custom`` (migration 0003); list rules are EXISTS / NOT EXISTS
subqueries served by the (contact_list, contact) unique index, never IN lists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    FloatField,
    Func,
    Lookup,
    OuterRef,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, IContains, LessThan, Regex
from django.utils import timezone

from contacts import phone as phones
from contacts.models import Contact, ContactList, CustomField, ListMembership, Segment, Source

CUSTOM_PREFIX = "custom."
MATCHES = ("all", "any")
# Value inputs the rule editor knows how to draw.
INPUTS = ("none", "text", "number", "date", "days", "choice")
MAX_TEXT = 200
MAX_DAYS = 36500
COUNT_CACHE_SECONDS = 300

Choices = list[tuple[str, str]]


@dataclass(frozen=True)
class Operator:
    """One way to compare: ``build(parsed_value) -> Q``.

    ``input`` tells the editor which value widget to draw and picks the default
    parser; ``parse`` overrides it (raise ValidationError with a short message).
    """

    label: str
    input: str
    build: Callable[[Any], Q]
    parse: Callable[[Any], Any] | None = None


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


_REGISTRY: dict[str, RuleKind] = {}


def register_rule(
    key: str,
    *,
    label: str,
    operators: Mapping[str, Operator],
    group: str = "Activity",
    choices: Callable[[], Choices] | None = None,
) -> RuleKind:
    """Add a rule kind that segments can use. Other apps call this from their
    ``AppConfig.ready``; registering the same key twice is an error."""
    if key in _REGISTRY:
        raise ValueError(f"rule kind {key!r} is already registered")
    if key.startswith(CUSTOM_PREFIX):
        raise ValueError(f"{CUSTOM_PREFIX}* is reserved for custom fields")
    for op_key, operator in operators.items():
        if operator.input not in INPUTS:
            raise ValueError(f"{key}.{op_key}: unknown input {operator.input!r}")
        if operator.input == "choice" and choices is None:
            raise ValueError(f"{key}.{op_key}: a choice operator needs choices")
    kind = RuleKind(key=key, label=label, group=group, operators=dict(operators), choices=choices)
    _REGISTRY[key] = kind
    return kind


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


def _parse_country(raw: Any) -> str:
    text = parse_text(raw).upper()
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise ValidationError(f"{text!r} is not a two-letter country code (GB, US…).")
    return text


def _parse_phone(raw: Any) -> str:
    text = parse_text(raw)
    try:
        return phones.normalize(text)
    except phones.InvalidNumber as exc:
        raise ValidationError(f"{text!r} is {exc}.") from None


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "none": _parse_none,
    "text": parse_text,
    "number": parse_number,
    "date": parse_date,
    "days": parse_days,
}


# -- building blocks --------------------------------------------------------------------


def _start_of(day: str | date) -> datetime:
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


class _ILike(Lookup):
    lookup_name = "segment_ilike"

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


# The expression of the contact_search_trgm index (migration 0003), column by
# column, so that the planner recognises it and the alias survives subqueries.
SEARCH_COLUMNS = ("first_name", "last_name", "phone", "email")


def _search_text() -> Func:
    return Func(
        *(F(column) for column in SEARCH_COLUMNS),
        template="(%(expressions)s)",
        arg_joiner=" || ' ' || ",
        output_field=TextField(),
    )


def _contains(column: str, value: str) -> Q:
    found = Q(**{f"{column}__icontains": value})
    if connection.vendor == "postgresql" and column in SEARCH_COLUMNS and len(value) >= 3:
        # Whatever a column contains, the concatenation contains too: this extra
        # condition changes no result but lets the trigram index find the rows.
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found &= Q(_ILike(_search_text(), f"%{escaped}%"))
    return found


def _text_operators(column: str) -> dict[str, Operator]:
    return {
        "equals": Operator("is", "text", lambda v: Q(**{f"{column}__iexact": v})),
        "contains": Operator("contains", "text", lambda v: _contains(column, v)),
        "is_empty": Operator("is empty", "none", lambda _: Q(**{column: ""})),
    }


def _datetime_operators(column: str) -> dict[str, Operator]:
    return {
        "before": Operator("is before", "date", lambda v: Q(**{f"{column}__lt": _start_of(v)})),
        "after": Operator(
            "is after",
            "date",
            lambda v: Q(**{f"{column}__gte": _start_of(date.fromisoformat(v) + timedelta(days=1))}),
        ),
        "since": Operator(
            "is on or after", "date", lambda v: Q(**{f"{column}__gte": _start_of(v)})
        ),
        "within_days": Operator(
            "is within the last",
            "days",
            lambda v: Q(**{f"{column}__gte": timezone.now() - timedelta(days=v)}),
        ),
    }


def _json_equals(key: str, value: Any) -> Q:
    if connection.vendor == "postgresql":
        # custom @> '{"key": value}': the GIN (jsonb_path_ops) index answers it.
        return Q(custom__contains={key: value})
    return Q(**{f"custom__{key}": value})


def _json_compare(key: str, comparison: str, number: int | float) -> Q:
    """custom[key] <comparison> number, for values stored as JSON numbers; any
    other value (text, missing) simply does not match, it never fails the query."""
    if connection.vendor == "postgresql":
        # A jsonpath filter is strict about types and costs less per row than a
        # guarded cast.
        path = f"$.{json.dumps(key)} ? (@ {comparison} $value)"
        exists = Func(
            F("custom"),
            Value(path),
            Value(json.dumps({"value": number})),
            function="jsonb_path_exists",
            output_field=BooleanField(),
        )
        return Q(exists)
    text = KeyTextTransform(key, "custom")
    as_number = Case(
        When(Regex(text, r"^\s*-?[0-9]+(\.[0-9]+)?\s*$"), then=Cast(text, FloatField())),
        default=None,
        output_field=FloatField(),
    )
    lookup = GreaterThan if comparison == ">" else LessThan
    return Q(lookup(as_number, number))


# Custom dates are stored as ISO text, which orders like the dates themselves.
# The bounds keep out values that are not dates ("someday" sorts after "9999").
FIRST_DAY, AFTER_LAST_DAY = "0000-01-01", "9999-12-32"


def _json_date_between(key: str, start: str, end: str) -> Q:
    """start <= custom[key] < end, compared as text."""
    text = KeyTextTransform(key, "custom")
    return Q(GreaterThanOrEqual(text, start)) & Q(LessThan(text, end))


def _next_day(iso: str) -> str:
    return (date.fromisoformat(iso) + timedelta(days=1)).isoformat()


def _custom_operators(field: CustomField) -> dict[str, Operator]:
    key = field.key
    kind = CustomField.Kind
    if field.kind == kind.NUMBER:
        return {
            "equals": Operator("is", "number", lambda v: _json_equals(key, v)),
            "gt": Operator("is more than", "number", lambda v: _json_compare(key, ">", v)),
            "lt": Operator("is less than", "number", lambda v: _json_compare(key, "<", v)),
        }
    if field.kind == kind.DATE:

        def within(days: int) -> Q:
            today = timezone.localdate()
            since = (today - timedelta(days=days)).isoformat()
            return _json_date_between(key, since, _next_day(today.isoformat()))

        return {
            "before": Operator(
                "is before", "date", lambda v: _json_date_between(key, FIRST_DAY, v)
            ),
            "after": Operator(
                "is after", "date", lambda v: _json_date_between(key, _next_day(v), AFTER_LAST_DAY)
            ),
            "within_days": Operator("is within the last", "days", within),
        }
    if field.kind == kind.BOOLEAN:
        return {
            "is_true": Operator("is yes", "none", lambda _: _json_equals(key, True)),
            "is_false": Operator("is no", "none", lambda _: _json_equals(key, False)),
        }
    if field.kind == kind.CHOICE:
        return {"equals": Operator("is", "choice", lambda v: _json_equals(key, v))}
    return {
        "equals": Operator("is", "text", lambda v: _json_equals(key, v)),
        "contains": Operator(
            "contains", "text", lambda v: Q(IContains(KeyTextTransform(key, "custom"), v))
        ),
        "is_empty": Operator(
            "is empty",
            "none",
            lambda _: ~Q(custom__has_key=key) | _json_equals(key, "") | _json_equals(key, None),
        ),
    }


def custom_rule_kind(field: CustomField) -> RuleKind:
    choices = [(str(c), str(c)) for c in field.choices or []]
    return RuleKind(
        key=CUSTOM_PREFIX + field.key,
        label=field.label,
        group="Custom fields",
        operators=_custom_operators(field),
        choices=(lambda: choices) if field.kind == CustomField.Kind.CHOICE else None,
    )


# -- rule kinds that ship with contacts ------------------------------------------------

for _column, _label in [
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("email", "Email"),
    ("time_zone", "Time zone"),
]:
    register_rule(_column, label=_label, group="Contact", operators=_text_operators(_column))

register_rule(
    "phone",
    label="Number",
    group="Contact",
    operators={
        "equals": Operator("is", "text", lambda v: Q(phone=v), parse=_parse_phone),
        "contains": Operator("contains", "text", lambda v: _contains("phone", v)),
    },
)
register_rule(
    "country",
    label="Country",
    group="Contact",
    operators={
        "equals": Operator("is", "text", lambda v: Q(country=v), parse=_parse_country),
        "not_equals": Operator("is not", "text", lambda v: ~Q(country=v), parse=_parse_country),
        "is_empty": Operator("is unknown", "none", lambda _: Q(country="")),
    },
)
register_rule(
    "source",
    label="Source",
    group="Contact",
    operators={
        "equals": Operator("is", "choice", lambda v: Q(source=v)),
        "not_equals": Operator("is not", "choice", lambda v: ~Q(source=v)),
    },
    choices=lambda: list(Source.choices),
)
register_rule(
    "created_at", label="Added", group="Contact", operators=_datetime_operators("created_at")
)


def _in_lists(*list_ids: int) -> Q:
    members = ListMembership.objects.filter(contact_id=OuterRef("pk"))
    if len(list_ids) == 1:
        return Q(Exists(members.filter(contact_list_id=list_ids[0])))
    return Q(Exists(members.filter(contact_list_id__in=list_ids)))


register_rule(
    "list",
    label="List",
    group="Lists",
    operators={
        "in": Operator("is in", "choice", _in_lists, parse=parse_object_id),
        "not_in": Operator("is not in", "choice", lambda v: ~_in_lists(v), parse=parse_object_id),
    },
    choices=lambda: [(str(pk), name) for pk, name in ContactList.objects.values_list("pk", "name")],
)
register_rule(
    "consent",
    label="Consent",
    group="Consent",
    operators={
        "subscribed": Operator("is subscribed", "none", lambda _: Q(opted_out=False)),
        "opted_out": Operator("has opted out", "none", lambda _: Q(opted_out=True)),
    },
)


# -- parsing and compiling --------------------------------------------------------------


def rule_kinds(custom_keys: Iterable[str] | None = None) -> dict[str, RuleKind]:
    """Every rule kind: the registered ones and the custom fields (all of them,
    or only ``custom_keys``, so compiling a segment reads no more than it needs)."""
    fields = CustomField.objects.all()
    if custom_keys is not None:
        keys = list(custom_keys)
        fields = fields.filter(key__in=keys) if keys else fields.none()
    kinds = dict(_REGISTRY)
    for field in fields:
        kind = custom_rule_kind(field)
        kinds[kind.key] = kind
    return kinds


def parse_rule(rule: Any, *, kinds: Mapping[str, RuleKind]) -> ParsedRule:
    """One rule, checked; ValidationError says what is wrong with it."""
    if not isinstance(rule, Mapping):
        raise ValidationError("A rule must be an object with field, op and value.")
    field = str(rule.get("field") or "")
    kind = kinds.get(field)
    if kind is None:
        if field.startswith(CUSTOM_PREFIX):
            raise ValidationError(f"There is no custom field {field[len(CUSTOM_PREFIX) :]!r}.")
        raise ValidationError(f"Unknown field {field!r}.")
    op = str(rule.get("op") or "")
    operator = kind.operators.get(op)
    if operator is None:
        allowed = ", ".join(o.label for o in kind.operators.values())
        raise ValidationError(f"{kind.label} cannot be compared with {op!r} (use: {allowed}).")
    raw = rule.get("value")
    if operator.parse is not None:
        value = operator.parse(raw)
    elif operator.input == "choice":
        value = str(raw if raw is not None else "").strip()
        if value not in dict(kind.choices() if kind.choices else []):
            raise ValidationError(f"{value!r} is not one of the choices for {kind.label}.")
    else:
        value = _PARSERS[operator.input](raw)
    return ParsedRule(kind=kind, op=op, value=value)


def parse_rules(
    match: str, rules: Any, *, kinds: Mapping[str, RuleKind] | None = None
) -> list[ParsedRule]:
    """All rules, checked; one ValidationError lists every problem ("Rule 2: ...")."""
    if match not in MATCHES:
        raise ValidationError(f"Match must be 'all' or 'any', not {match!r}.")
    if not isinstance(rules, Sequence) or isinstance(rules, str | bytes):
        raise ValidationError("Rules must be a list.")
    if kinds is None:
        kinds = rule_kinds(
            str(r["field"])[len(CUSTOM_PREFIX) :]
            for r in rules
            if isinstance(r, Mapping) and str(r.get("field", "")).startswith(CUSTOM_PREFIX)
        )
    parsed, errors = [], []
    for number, rule in enumerate(rules, start=1):
        try:
            parsed.append(parse_rule(rule, kinds=kinds))
        except ValidationError as exc:
            errors.extend(f"Rule {number}: {message}" for message in exc.messages)
    if errors:
        raise ValidationError(errors)
    return parsed


def rules_q(match: str, parsed: Sequence[ParsedRule]) -> Q:
    conditions = [rule.q() for rule in parsed if not _merges(match, rule)]
    # "In A or in B" becomes one EXISTS (list IN (A, B)) and "not in A and not
    # in B" one NOT EXISTS: one subquery over the membership index, not one each.
    merged = [rule.value for rule in parsed if _merges(match, rule)]
    if merged:
        conditions.append(_in_lists(*merged) if match == "any" else ~_in_lists(*merged))
    combined = Q()
    for condition in conditions:
        combined = (combined & condition) if match == "all" else (combined | condition)
    return combined


def _merges(match: str, rule: ParsedRule) -> bool:
    return rule.kind.key == "list" and rule.op == ("in" if match == "any" else "not_in")


def contacts_matching(match: str, parsed: Sequence[ParsedRule]) -> QuerySet[Contact]:
    return Contact.objects.filter(rules_q(match, parsed), erased_at__isnull=True)


def rules_queryset(match: str, rules: Any) -> QuerySet[Contact]:
    """The contacts the rules select, as one lazy query; erased contacts never
    match. No rules: every contact. ValidationError when a rule is invalid."""
    return contacts_matching(match, parse_rules(match, rules))


def segment_queryset(segment: Segment) -> QuerySet[Contact]:
    return rules_queryset(segment.match, segment.rules)


def segment_describe(segment: Segment) -> list[str]:
    """The rules in words, for lists and detail pages; ValidationError if invalid."""
    return [rule.describe() for rule in parse_rules(segment.match, segment.rules)]


def segment_count(segment: Segment, *, fresh: bool = False) -> int:
    """How many contacts match, cached for a few minutes (a change to the
    segment's rules changes the key). ValidationError if the rules are invalid."""
    key = (
        f"segment-count:{segment.pk}:{segment.updated_at.timestamp() if segment.updated_at else 0}"
    )
    if not fresh:
        cached = cache.get(key)
        if cached is not None:
            return cached
    count = segment_queryset(segment).count()
    cache.set(key, count, COUNT_CACHE_SECONDS)
    return count
