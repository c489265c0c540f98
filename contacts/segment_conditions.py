"""Building blocks of segment rules: the ``Q`` each operator compiles to, for the
standard contact columns, custom fields (kept in the ``custom`` JSON column) and
list membership.

Index notes (PostgreSQL): custom-field equality is JSON containment, served by
the GIN index on ``custom`` (migration 0003); list rules are EXISTS / NOT EXISTS
subqueries served by the (contact_list, contact) unique index, never IN lists;
"contains" on a searchable column also asks the trigram index.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

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
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Upper
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    In,
    LessThan,
    Regex,
)
from django.utils import timezone

from contacts.models import CustomField, ListMembership
from contacts.segment_rules import CUSTOM_PREFIX, Operator, RuleKind, parse_object_id


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


def text_contains(column: str, value: str) -> Q:
    found = Q(**{f"{column}__icontains": value})
    if connection.vendor == "postgresql" and column in SEARCH_COLUMNS and len(value) >= 3:
        # Whatever a column contains, the concatenation contains too: this extra
        # condition changes no result but lets the trigram index find the rows.
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found &= Q(_ILike(_search_text(), f"%{escaped}%"))
    return found


def _upper_in(column: str, values: list[str]) -> Q:
    """What ``iexact`` is on PostgreSQL, ``UPPER(column) = UPPER(value)``, for several
    values at once: one scan of the column's rule index (models.Contact.Meta)."""
    return Q(In(Upper(column), [Upper(Value(value)) for value in values]))


def text_operators(column: str) -> dict[str, Operator]:
    return {
        "equals": Operator(
            "is",
            "text",
            lambda v: Q(**{f"{column}__iexact": v}),
            merge=lambda values: _upper_in(column, values),
        ),
        "contains": Operator("contains", "text", lambda v: text_contains(column, v)),
        # UPPER(column) = '' exactly when column = '': the names' rule indexes
        # (models.Contact.Meta) are on UPPER(column).
        "is_empty": Operator("is empty", "none", lambda _: Q(Exact(Upper(column), ""))),
    }


def equals_operators(
    column: str, input: str, parse: Callable[[Any], Any] | None = None
) -> dict[str, Operator]:
    """ "is" and "is not" for a column compared exactly (country, source): several
    "is" joined by any, or several "is not" joined by all, become one IN."""
    return {
        "equals": Operator(
            "is",
            input,
            lambda v: Q(**{column: v}),
            parse=parse,
            merge=lambda values: Q(**{f"{column}__in": values}),
        ),
        "not_equals": Operator(
            "is not",
            input,
            lambda v: ~Q(**{column: v}),
            parse=parse,
            merge=lambda values: ~Q(**{f"{column}__in": values}),
            merge_match="all",
        ),
    }


def datetime_operators(column: str) -> dict[str, Operator]:
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


def list_operators() -> dict[str, Operator]:
    """ "In A or in B" is one EXISTS (list IN (A, B)), "not in A and not in B" one
    NOT EXISTS: one subquery over the membership index, not one each."""
    return {
        "in": Operator(
            "is in",
            "choice",
            in_lists,
            parse=parse_object_id,
            merge=lambda ids: in_lists(*ids),
        ),
        "not_in": Operator(
            "is not in",
            "choice",
            lambda v: ~in_lists(v),
            parse=parse_object_id,
            merge=lambda ids: ~in_lists(*ids),
            merge_match="all",
        ),
    }


def in_lists(*list_ids: int) -> Q:
    members = ListMembership.objects.filter(contact_id=OuterRef("pk"))
    if len(list_ids) == 1:
        return Q(Exists(members.filter(contact_list_id=list_ids[0])))
    return Q(Exists(members.filter(contact_list_id__in=list_ids)))
