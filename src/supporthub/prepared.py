"""Querysets whose SQL Django compiles once per connection: for the few reads on the hottest
paths (the sender of every inbound mail, the token and requester of every API create), where
compiling the query cost more than the database took to answer it.

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
        the columns this query selects, in its order: converted as this query's rows are."""
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
        for row in compiled.compiler.results_iter([rows]):
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
        )
