"""One outbound message row, written the fast way for one-off sends (API, inbox, OTP).

message_insert is Message.objects.create in one statement that also checks the
opt-out list and finds the recipient's contact: on the API's send path the ORM's
INSERT compiler cost a third of the web process's CPU, and the opt-out check was a
round trip of its own."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import NOT_PROVIDED, DateTimeField, Field
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from contacts.models import Contact, Suppression
from messaging.models import Message

# The values a field of this type passes on to the database unchanged, so that they
# can skip get_db_prep_save: any str for text (TextChoices too), but exactly an int or
# a bool (True for an integer column becomes 1 there).
_AS_IS = {
    "CharField": str,
    "TextField": str,
    "BooleanField": bool,
    "ForeignKey": int,
    "IntegerField": int,
    "BigIntegerField": int,
    "SmallIntegerField": int,
    "PositiveIntegerField": int,
    "PositiveBigIntegerField": int,
    "PositiveSmallIntegerField": int,
}
_NOW = object()  # auto_now, auto_now_add: the time of the insert
_CALLED = object()  # a callable default (uuid4, dict): called for every row


class _Column(NamedTuple):
    field: Field
    name: str  # the attribute name (account_id)
    as_is: type | None  # the type of the values that skip get_db_prep_save
    default: object  # the value when none is given, or _NOW or _CALLED
    is_datetime: bool


def _column(field: Field) -> _Column:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        default = _NOW
    elif field.has_default() and callable(field.default):
        default = _CALLED
    else:
        default = field.get_default()  # the same for every row: None, "", 0, ...
    return _Column(
        field,
        field.attname,
        _AS_IS.get(field.get_internal_type()),
        default,
        isinstance(field, DateTimeField),
    )


_COLUMNS = tuple(_column(f) for f in Message._meta.concrete_fields if not f.primary_key)
_PK_INDEX = Message._meta.concrete_fields.index(Message._meta.pk)
# Columns the database fills (db_default) or computes (GeneratedField) are the ORM's.
_ORM_ONLY = any(
    f.db_default is not NOT_PROVIDED or getattr(f, "generated", False)
    for f in Message._meta.concrete_fields
)


@functools.cache
def _state_sql(vendor: str) -> str:
    """(opted_out, contact_id) of the number given twice as parameters: the
    recipient's state, selected alone or as the INSERT's source row."""
    quote = connection.ops.quote_name
    return (
        f"SELECT EXISTS (SELECT 1 FROM {quote(Suppression._meta.db_table)} WHERE phone = %s)"  # noqa: S608 - table names from the models, values bound
        f" AS opted_out, (SELECT id FROM {quote(Contact._meta.db_table)} WHERE phone = %s)"
        " AS contact_id"
    )


def recipient_state(to_number: str) -> tuple[bool, int | None]:
    """(opted out, contact id) of a number, in one round trip."""
    with connection.cursor() as cursor:
        cursor.execute(_state_sql(connection.vendor), [to_number, to_number])
        return cursor.fetchone()


@functools.cache
def _statement(vendor: str, conditional: frozenset[str], find_contact: bool) -> str:
    """INSERT ... SELECT: one row, its conditional columns chosen by whether the
    number is on the opt-out list, its contact looked up when asked."""
    quote = connection.ops.quote_name
    values = []
    for column in _COLUMNS:
        name = column.name
        if name in conditional:
            values.append("CASE WHEN r.opted_out THEN %s ELSE %s END")
        elif name == "contact_id" and find_contact:
            values.append("r.contact_id")
        else:
            values.append("%s")
    pk, status, contact = (
        quote(Message._meta.get_field(name).column) for name in ("id", "status", "contact")
    )
    return (
        f"INSERT INTO {quote(Message._meta.db_table)}"  # noqa: S608 - names from the models, values bound
        f" ({', '.join(quote(column.field.column) for column in _COLUMNS)})"
        f" SELECT {', '.join(values)} FROM ({_state_sql(vendor)}) r"
        f" RETURNING {pk}, {status}, {contact}"
    )


def _db_value(column: _Column, value: object) -> object:
    """What column.field.get_db_prep_save(value) gives, with its cheap cases first."""
    if value is None or type(value) is column.as_is:
        return value
    if column.as_is is str and isinstance(value, str):
        return value
    if column.is_datetime and type(value) is datetime and value.tzinfo is not None:
        # DateTimeField.get_prep_value leaves an aware datetime as it is.
        return connection.ops.adapt_datetimefield_value(value)
    return column.field.get_db_prep_save(value, connection)


def _one_statement_possible() -> bool:
    return (
        not _ORM_ONLY
        and not pre_save.has_listeners(Message)
        and not post_save.has_listeners(Message)
        and connection.features.can_return_columns_from_insert
    )


def message_insert(
    *, if_opted_out: Mapping[str, object] | None = None, **given: object
) -> tuple[Message, bool]:
    """Message.objects.create(**given) for an outbound row, in one statement; returns
    the message and whether its number is on the opt-out list and if_opted_out was
    applied.

    given: values by attribute name (account_id, not account); every other column
    gets its field's default, as the ORM would fill it (and auto_now_add is now). A
    contact_id left out or None becomes the id of the contact with the row's
    to_number (None when there is none). if_opted_out: values that replace given
    ones when to_number is on the opt-out list (status among them, and different).

    The opt-out check is part of the INSERT, so no opt-out can come between them.
    One statement, so it commits on its own outside a transaction. With a pre_save
    or post_save receiver for Message connected, a column the database fills, or a
    database that cannot return columns from an INSERT, it is the check and then
    Message.objects.create."""
    if "to_number" not in given:
        raise TypeError("message_insert needs the to_number")
    if if_opted_out is not None and "status" not in if_opted_out:
        raise ValueError("if_opted_out must change the status")
    if not _one_statement_possible():
        return _check_then_create(if_opted_out, given)
    unknown = set(given) - {column.name for column in _COLUMNS}
    if unknown:
        raise TypeError(f"Message has no fields {sorted(unknown)}")
    chosen = if_opted_out or {}
    find_contact = given.get("contact_id") is None
    values: dict[str, object] = {}
    params: list[object] = []
    conditional: list[str] = []
    now = None
    for column in _COLUMNS:
        name = column.name
        if column.default is _NOW:  # given or not, as the ORM's pre_save does
            value = now = now or timezone.now()
        elif name in given:
            value = given[name]
        elif column.default is _CALLED:
            value = column.field.get_default()
        else:
            value = column.default
        values[name] = value
        if name in chosen and chosen[name] != value:
            conditional.append(name)
            params.append(_db_value(column, chosen[name]))
            params.append(_db_value(column, value))
        elif not (name == "contact_id" and find_contact):
            params.append(_db_value(column, value))
    if chosen and "status" not in conditional:
        raise ValueError("if_opted_out must change the status")
    to_number = given["to_number"]
    params += [to_number, to_number]
    sql = _statement(connection.vendor, frozenset(conditional), find_contact)
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk, status, contact_id = cursor.fetchone()
    opted_out = bool(chosen) and status == chosen["status"]
    if opted_out:
        values.update(chosen)
    values["contact_id"] = contact_id
    row = list(values.values())
    row.insert(_PK_INDEX, pk)
    return Message.from_db(connection.alias, None, row), opted_out


def _check_then_create(
    if_opted_out: Mapping[str, object] | None, given: dict[str, object]
) -> tuple[Message, bool]:
    listed, contact_id = recipient_state(given["to_number"])
    opted_out = listed and if_opted_out is not None
    values = {**given, **(if_opted_out if opted_out else {})}
    if values.get("contact_id") is None:
        values["contact_id"] = contact_id
    return Message.objects.create(**values), opted_out
