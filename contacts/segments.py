"""Segments: saved rules over contacts, compiled to one query.

A rule is ``{"field": <rule kind>, "op": <operator>, "value": <value>}``. A rule
kind is a standard contact field ("first_name"), a custom field ("custom.plan")
or anything registered with ``register_rule`` ("list", "consent"; later the
campaigns app adds "received_campaign", "clicked", "replied" from its
``AppConfig.ready``). Every operator turns a parsed value into a ``Q`` over
Contact, so a whole segment is one WHERE clause and nothing loops over contacts
in Python.

This module keeps the registry of rule kinds and compiles segments; the rule
types and value parsers are in ``contacts.segment_rules``, the ``Q`` building
blocks (and their index notes) in ``contacts.segment_conditions``. Their public
names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from contacts.models import Contact, ContactList, CustomField, Segment, Source
from contacts.segment_conditions import (
    AFTER_LAST_DAY,
    FIRST_DAY,
    SEARCH_COLUMNS,
    custom_rule_kind,
    datetime_operators,
    equals_operators,
    list_operators,
    text_contains,
    text_operators,
)
from contacts.segment_rules import (
    CUSTOM_PREFIX,
    INPUTS,
    MAX_DAYS,
    MAX_TEXT,
    PARSERS,
    Choices,
    Operator,
    ParsedRule,
    RuleKind,
    parse_country,
    parse_date,
    parse_days,
    parse_number,
    parse_object_id,
    parse_phone,
    parse_text,
)

__all__ = [
    "AFTER_LAST_DAY",
    "COUNT_CACHE_SECONDS",
    "CUSTOM_PREFIX",
    "FIRST_DAY",
    "INPUTS",
    "MATCHES",
    "MAX_DAYS",
    "MAX_TEXT",
    "SEARCH_COLUMNS",
    "Choices",
    "Operator",
    "ParsedRule",
    "RuleKind",
    "contacts_matching",
    "custom_rule_kind",
    "parse_date",
    "parse_days",
    "parse_number",
    "parse_object_id",
    "parse_rule",
    "parse_rules",
    "parse_text",
    "register_rule",
    "rule_kinds",
    "rules_q",
    "rules_queryset",
    "segment_count",
    "segment_describe",
    "segment_queryset",
]

MATCHES = ("all", "any")
COUNT_CACHE_SECONDS = 300


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


# -- rule kinds that ship with contacts ------------------------------------------------

for _column, _label in [
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("email", "Email"),
    ("time_zone", "Time zone"),
]:
    register_rule(_column, label=_label, group="Contact", operators=text_operators(_column))

register_rule(
    "phone",
    label="Number",
    group="Contact",
    operators={
        "equals": Operator(
            "is",
            "text",
            lambda v: Q(phone=v),
            parse=parse_phone,
            merge=lambda numbers: Q(phone__in=numbers),
        ),
        "contains": Operator("contains", "text", lambda v: text_contains("phone", v)),
    },
)
register_rule(
    "country",
    label="Country",
    group="Contact",
    operators={
        **equals_operators("country", "text", parse=parse_country),
        "is_empty": Operator("is unknown", "none", lambda _: Q(country="")),
    },
)
register_rule(
    "source",
    label="Source",
    group="Contact",
    operators=equals_operators("source", "choice"),
    choices=lambda: list(Source.choices),
)
register_rule(
    "created_at", label="Added", group="Contact", operators=datetime_operators("created_at")
)


register_rule(
    "list",
    label="List",
    group="Lists",
    operators=list_operators(),
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
        value = PARSERS[operator.input](raw)
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
    conditions: list[Q] = []
    # Rules that merge under this match ("in list A or in list B", "first name is
    # Ada or is Sophie") become one condition per field and operator: one index
    # scan for an IN, where PostgreSQL would scan once for each side of an OR.
    merged: dict[tuple[str, str], tuple[Operator, list[Any]]] = {}
    for rule in parsed:
        operator = rule.operator
        if operator.merge is None or operator.merge_match != match:
            conditions.append(rule.q())
            continue
        _, values = merged.setdefault((rule.kind.key, rule.op), (operator, []))
        if rule.value not in values:
            values.append(rule.value)
    for operator, values in merged.values():
        conditions.append(operator.merge(values) if len(values) > 1 else operator.build(values[0]))
    combined = Q()
    for condition in conditions:
        combined = (combined & condition) if match == "all" else (combined | condition)
    return combined


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
