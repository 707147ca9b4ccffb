"""Prepared: a queryset compiled once per thread, run again with other values; the same
instances (select_related objects attached, values converted) as the queryset itself."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from supporthub.customers.models import SupportContact
from supporthub.customers.selectors import _ACTIVE_WITH_EMAIL
from supporthub.prepared import Prepared
from supporthub.testing.world import World

pytestmark = pytest.mark.django_db

# The one mail to ticket and voicemail triage run for every sender.
BY_EMAIL = _ACTIVE_WITH_EMAIL


def test_it_finds_what_the_queryset_finds_with_its_related_objects(world: World) -> None:
    [found] = BY_EMAIL(world.carol.email.upper())
    expected = SupportContact.objects.select_related("organisation", "user").get(pk=world.carol.pk)
    assert found == expected
    assert found.created_at == expected.created_at  # converted (SQLite stores text)
    assert found.is_active is True
    with CaptureQueriesContext(connection) as captured:
        assert found.organisation.name == expected.organisation.name
        assert found.user == expected.user
    assert captured.captured_queries == []  # attached, not loaded again
    assert BY_EMAIL("nobody@example.com") == []


def test_the_statement_is_compiled_once_and_logged_as_any_query(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh: Prepared[SupportContact] = Prepared(BY_EMAIL.build, markers=BY_EMAIL.markers)
    compiled: list[str] = []
    real = fresh._compile

    def counted(using: str) -> object:
        compiled.append(using)
        return real(using)

    monkeypatch.setattr(fresh, "_compile", counted)
    with CaptureQueriesContext(connection) as captured:
        assert len(fresh(world.carol.email)) == 1
        assert fresh("nobody@example.com") == []
        assert len(fresh(world.carol.email)) == 1
    assert compiled == ["default"]
    assert len(captured.captured_queries) == 3
    assert "nobody@example.com" in captured.captured_queries[1]["sql"]


def test_each_thread_compiles_on_its_own_connection(world: World) -> None:
    BY_EMAIL(world.carol.email)
    seen: list[object] = []

    def other() -> None:
        try:
            seen.append(BY_EMAIL._local.__dict__.get("compiled"))
        finally:
            connection.close()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == [None]  # nothing compiled on this thread is shared with another


def test_a_marker_that_a_lookup_rewrites_is_refused() -> None:
    bad: Prepared[SupportContact] = Prepared(
        lambda email: SupportContact.objects.filter(email__icontains=email),
        markers=["\x00email\x00"],
    )
    with pytest.raises(ValueError, match="among the parameters 0 times"):
        bad("carol@northwind.example")


def test_the_number_of_values_is_checked() -> None:
    with pytest.raises(TypeError, match="expected 1 value"):
        BY_EMAIL()


def test_first_is_the_first_instance_or_none(world: World) -> None:
    first = BY_EMAIL.first(world.carol.email)
    assert first is not None and first.pk == world.carol.pk
    assert BY_EMAIL.first("nobody@example.com") is None


def test_from_rows_makes_instances_of_rows_another_statement_returned(world: World) -> None:
    by_pk: Prepared[SupportContact] = Prepared(
        lambda pk: SupportContact.objects.filter(pk=pk), markers=(-424242,)
    )
    meta = SupportContact._meta
    columns = ", ".join(connection.ops.quote_name(f.column) for f in meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {meta.db_table} WHERE id = %s",  # noqa: S608 - model names
            [world.carol.pk],
        )
        rows = cursor.fetchall()
    [found] = by_pk.from_rows(rows)
    expected = SupportContact.objects.get(pk=world.carol.pk)
    assert found == expected
    assert found.created_at == expected.created_at  # converted as the query's own rows are
    assert found._state.adding is False
    with pytest.raises(ValueError, match="this query selects"):
        by_pk.from_rows([(*rows[0], "one too many")])
