"""Model instances from the rows of a hand-written read, on Django's public API.

Two hot reads are written as SQL instead of being compiled by the ORM on every call (an ORM
query costs more to build than to run): the opening read of every ticket (the entitlement,
with the requester for an API create: customers.selectors) and the API token with its owner
(api.auth). Their tables and columns come from `Model._meta`, each app's
fragment from that app's own selectors, and their rows become instances here through
`Field.to_python` (SQLite hands dates back as text) and `Model.from_db`, as a queryset's
would. Datetimes come back aware, as the ORM gives them: PostgreSQL's already are, SQLite's
text is the UTC instant Django wrote (with USE_TZ, Django stores datetimes in UTC). Times,
JSON and binary columns are refused: read those through the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections, models, router

M = TypeVar("M", bound=models.Model)

_REFUSED = (models.TimeField, models.JSONField, models.BinaryField)


def columns(model: type[models.Model], attnames: Sequence[str], *, alias: str) -> str:
    """`alias."column", ...` of these fields, in this order, for a SELECT list."""
    return ", ".join(f'{alias}."{column(model, name)}"' for name in attnames)


def column(model: type[models.Model], attname: str) -> str:
    """The column of the field `attname` (refused for the types `instance` cannot convert)."""
    for field in model._meta.concrete_fields:
        if field.attname == attname:
            if isinstance(field, _REFUSED):
                raise TypeError(f"{model.__name__}.{field.name}: read it through the ORM")
            return str(field.column)
    raise LookupError(f"{model.__name__} has no field {attname!r}")


def table(model: type[models.Model]) -> str:
    return f'"{model._meta.db_table}"'


def fetch_one(model: type[models.Model], sql: str, params: Sequence[Any]) -> tuple[Any, str]:
    """The first row of `sql` (None when there is none), on the database `model` is read from,
    and that database's alias (for `instance`)."""
    db = router.db_for_read(model)
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone(), db


def instance(model: type[M], attnames: Sequence[str], values: Sequence[Any], db: str) -> M:
    """The instance a queryset would build from these values (the other fields deferred)."""
    read = dict(zip(attnames, values, strict=True))
    names, converted = [], []
    for field in model._meta.concrete_fields:
        if field.attname in read:
            names.append(field.attname)
            value = read[field.attname]
            if value is not None:
                value = field.to_python(value)
                if isinstance(value, datetime) and value.tzinfo is None and settings.USE_TZ:
                    value = value.replace(tzinfo=UTC)
            converted.append(value)
    return model.from_db(db, names, converted)
