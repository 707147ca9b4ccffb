"""Statements Django compiles once per connection, for the hottest paths, where compiling
cost more than the database took to answer: `Prepared` querysets for the few reads (the
sender of every inbound mail, the token and requester of every API create) and `insert` for
the few writes (every inbound mail's stored row, ticket, outbox row and audit entries).

The rows become model instances exactly as Django's own ModelIterable makes them (with the
select_related objects attached), through the compiler's converters; the statement runs
through the connection's cursor, so query logging, execute wrappers and tests see it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]
from django.db.models.sql.compiler import SQLCompiler

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[int, ...]  # where each value goes in params, in the order of the markers
    compiler: SQLCompiler
    init_list: list[str]
    start: int
    end: int
    populators: list[Any]
    model: type[Model]
    # The compiler's converters for the selected columns (what results_iter works out again
    # for every batch of rows): they depend only on the columns and the connection.
    converters: dict[int, tuple[list[Any], Any]]


class Prepared(Generic[M]):
    """`build(*markers)` returns the queryset with a marker where each value goes.

    A marker is a value of the right type that no caller passes (`"\\x00email\\x00"`,
    `-424242`); it must reach the SQL unchanged, so compare with `=` (`field=`, `pk=`, an
    expression such as `Upper(Value(marker))`), never with a lookup that rewrites the value
    (`iexact`, `contains`, ...): compiling refuses a marker that is not among the parameters
    exactly once. Querysets with annotations or values() are not supported.
    """

    def __init__(self, build: Callable[..., QuerySet[M]], *, markers: Sequence[Any]) -> None:
        self.build = build
        self.markers = tuple(markers)
        # Per thread, as Django's connections are: a compiled query refers to the connection
        # it was compiled on (for its converters), and goes with its thread.
        self._local = threading.local()

    def __call__(self, *values: Any, using: str = DEFAULT_DB_ALIAS) -> list[M]:
        if len(values) != len(self.markers):
            raise TypeError(f"expected {len(self.markers)} value(s), got {len(values)}")
        compiled = self._compiled(using)
        params = list(compiled.params)
        for slot, value in zip(compiled.slots, values, strict=True):
            params[slot] = value
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return self._instances(compiled, rows, using)

    def from_rows(self, rows: list[tuple[Any, ...]], *, using: str = DEFAULT_DB_ALIAS) -> list[M]:
        """Instances made from rows another statement returned (an UPDATE ... RETURNING) with
        the columns this query selects, in its order: converted as this query's rows are.
        For a whole model's rows, see `model_rows` and `concrete_columns`."""
        compiled = self._compiled(using)
        width = len(compiled.compiler.select)
        for row in rows:
            if len(row) != width:
                raise ValueError(f"a row of {len(row)} columns; this query selects {width}")
        return self._instances(compiled, rows, using)

    def _compiled(self, using: str) -> _Compiled:
        mine: dict[str, _Compiled] = self._local.__dict__.setdefault("compiled", {})
        compiled = mine.get(using)
        if compiled is None:
            compiled = mine[using] = self._compile(using)
        return compiled

    def _instances(self, compiled: _Compiled, rows: list[Any], using: str) -> list[M]:
        found: list[M] = []
        converted = (
            compiled.compiler.apply_converters(rows, compiled.converters)
            if compiled.converters
            else rows
        )
        for row in converted:
            obj = compiled.model.from_db(
                using, compiled.init_list, row[compiled.start : compiled.end]
            )
            for populator in compiled.populators:
                populator.populate(row, obj)
            found.append(obj)  # type: ignore[arg-type]  # compiled.model is M
        return found

    def first(self, *values: Any, using: str = DEFAULT_DB_ALIAS) -> M | None:
        """The first row's instance, or None (for lookups of one row, such as a unique key)."""
        found = self(*values, using=using)
        return found[0] if found else None

    def _compile(self, using: str) -> _Compiled:
        queryset = self.build(*self.markers)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        slots = []
        for marker in self.markers:
            where = [i for i, param in enumerate(params) if param == marker]
            if len(where) != 1:
                raise ValueError(
                    f"marker {marker!r} is among the parameters {len(where)} times, not once: "
                    "compare it with '=' (a lookup such as iexact rewrites the value)"
                )
            slots.append(where[0])
        if compiler.annotation_col_map:
            raise ValueError("querysets with annotations are not supported (use alias())")
        klass_info = compiler.klass_info
        if klass_info is None:
            raise ValueError("only querysets of model instances are supported")
        select_fields = klass_info["select_fields"]
        start, end = select_fields[0], select_fields[-1] + 1
        return _Compiled(
            sql=sql,
            params=tuple(params),
            slots=tuple(slots),
            compiler=compiler,
            init_list=[column[0].target.attname for column in compiler.select[start:end]],
            start=start,
            end=end,
            populators=get_related_populators(klass_info, compiler.select, using),
            model=klass_info["model"],
            converters=compiler.get_converters(
                [column[0] for column in compiler.select[: compiler.col_count]]
            ),
        )


def model_rows(model: type[M]) -> Prepared[M]:
    """Makes instances of `model` (`.from_rows`) from rows of `concrete_columns(model)`: for
    hand-written SQL on a hot path (UPDATE ... RETURNING, a join read by position)."""
    return Prepared(lambda pk: model._default_manager.filter(pk=pk), markers=(-424242,))


def concrete_columns(model: type[Model], *, table: str = "", using: str = DEFAULT_DB_ALIAS) -> str:
    """The model's columns, quoted, in the order its queries select them (its concrete fields),
    optionally qualified by `table` (an alias in the caller's SQL)."""
    quote = connections[using].ops.quote_name
    prefix = f"{quote(table)}." if table else ""
    return ", ".join(prefix + quote(field.column) for field in model._meta.concrete_fields)


# --- INSERT --------------------------------------------------------------------------------

# Up to this many rows an INSERT's statement is kept per shape; a longer list goes through
# bulk_create (no hot path writes more than a handful of rows at once).
INSERT_MAX_ROWS = 16


@dataclass(frozen=True)
class _Insert:
    sql: str
    fields: tuple[Any, ...]  # the model fields whose values are sent, in column order
    returns_pk: bool


_inserts = threading.local()


def insert(objs: Sequence[Model], *, ignore_conflicts: bool = False) -> None:
    """Write new instances of one model in one INSERT whose SQL is written once per shape.

    What `Model.objects.bulk_create(objs, ignore_conflicts=...)` does, for the few writes on
    the hottest paths (every inbound mail's stored row, ticket, outbox row and audit
    entries), where building the INSERT through the ORM cost more than the database took to
    run it: values prepared by each field (`pre_save`: auto_now and the like;
    `get_db_prep_save`), the primary keys set from RETURNING and the instances marked saved
    (not with ignore_conflicts: a skipped row has no key, and none is known to be saved). As
    with bulk_create, no save signals are sent and save() is not called. Instances must be
    new (no primary key) and hold plain values (no expressions). The statement runs through
    the connection's cursor, so query logging, execute wrappers and tests see it.
    """
    if not objs:
        return
    model = type(objs[0])
    if any(type(obj) is not model for obj in objs):
        raise TypeError("insert: every instance must be of one model")
    using = objs[0]._state.db or DEFAULT_DB_ALIAS
    connection = connections[using]
    returning = connection.features.can_return_rows_from_bulk_insert
    if len(objs) > INSERT_MAX_ROWS or (len(objs) > 1 and not returning and not ignore_conflicts):
        model._base_manager.using(using).bulk_create(objs, ignore_conflicts=ignore_conflicts)
        return
    for obj in objs:
        if obj.pk is not None:
            raise ValueError(f"insert: {model.__name__} {obj.pk} already has a primary key")
        # Foreign keys assigned before their object was saved take its key now (bulk_create
        # does the same); an unsaved related object is refused.
        obj._prepare_related_fields_for_save(operation_name="insert")  # type: ignore[attr-defined]
    shapes: dict[tuple[Any, ...], _Insert] = _inserts.__dict__.setdefault("shapes", {})
    key = (using, model, len(objs), ignore_conflicts)
    shape = shapes.get(key)
    if shape is None:
        shape = shapes[key] = _insert_shape(connection, model, len(objs), ignore_conflicts)
    params: list[Any] = []
    for obj in objs:
        for field in shape.fields:
            value = field.pre_save(obj, True)
            if hasattr(value, "resolve_expression"):
                raise ValueError(f"insert: {model.__name__}.{field.name} is an expression")
            params.append(field.get_db_prep_save(value, connection=connection))
    with connection.cursor() as cursor:
        cursor.execute(shape.sql, params)
        if shape.returns_pk:
            if returning:
                pks = [row[0] for row in cursor.fetchall()]
            else:  # one row, on a database without RETURNING
                pk = model._meta.pk
                pks = [connection.ops.last_insert_id(cursor, model._meta.db_table, pk.column)]
    if shape.returns_pk:  # as bulk_create: a row ON CONFLICT may have skipped stays unsaved
        for obj, pk in zip(objs, pks, strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = using


def _insert_shape(connection: Any, model: type[Model], rows: int, ignore: bool) -> _Insert:
    from django.db.models import AutoField, BinaryField
    from django.db.models.constants import OnConflict
    from django.db.models.fields import NOT_PROVIDED

    meta = model._meta
    fields = tuple(
        field
        for field in meta.concrete_fields
        if not isinstance(field, AutoField) and not getattr(field, "generated", False)
    )
    if len(fields) != len(meta.concrete_fields) - 1 or not isinstance(meta.pk, AutoField):
        raise ValueError(f"insert: {meta.label} needs an auto-incremented primary key")
    ops = connection.ops
    for field in fields:
        # BinaryField's placeholder is the backend's (plain %s on PostgreSQL and SQLite).
        plain = not hasattr(field, "get_placeholder") or (
            isinstance(field, BinaryField)
            and ops.binary_placeholder_sql(None) == ops.binary_placeholder_sql(b"") == "%s"
        )
        if not plain or field.db_default is not NOT_PROVIDED:
            raise ValueError(f"insert: {meta.label}.{field.name} needs the ORM's own INSERT")
    on_conflict = OnConflict.IGNORE if ignore else None
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    parts = [
        ops.insert_statement(on_conflict=on_conflict),
        ops.quote_name(meta.db_table),
        "(" + ", ".join(ops.quote_name(field.column) for field in fields) + ")",
        "VALUES " + ", ".join([row] * rows),
    ]
    suffix = ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    if suffix:
        parts.append(suffix)
    # Primary keys come back from RETURNING (one row without it: the last insert id);
    # rows skipped by ON CONFLICT return nothing, so they are not asked for then.
    returns_pk = not ignore
    if returns_pk and connection.features.can_return_rows_from_bulk_insert:
        returning, _ = ops.return_insert_columns([meta.pk])
        parts.append(returning)
    return _Insert(sql=" ".join(parts), fields=fields, returns_pk=returns_pk)
