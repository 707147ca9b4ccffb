"""Prepared: a queryset compiled once per thread, run again with other values; the same
instances (select_related objects attached, values converted) as the queryset itself."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection
from django.db.models import Model, Value
from django.db.models.functions import Upper
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from supporthub import prepared
from supporthub.customers.models import Subscription, SupportContact
from supporthub.customers.selectors import _ACTIVE_WITH_EMAIL
from supporthub.intake.email.models import InboundMessage
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.prepared import Prepared, concrete_columns, insert, model_rows
from supporthub.testing.world import World
from supporthub.tickets.models import AuditEntry, Channel, Ticket
from supporthub.tickets.services import ticket_open

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


def test_converters_are_the_ones_results_iter_works_out_for_every_batch(world: World) -> None:
    audited: Prepared[AuditEntry] = Prepared(
        lambda pk: AuditEntry.objects.select_related("ticket").filter(ticket=pk),
        markers=(-424242,),
    )
    ticket = _ticket(world)
    compiled = audited._compiled("default")
    compiler = compiled.compiler
    expected = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
    assert compiled.converters.keys() == expected.keys()
    assert compiled.converters  # AuditEntry.data is JSON: converted on every database
    for position, (converters, expression) in compiled.converters.items():
        assert expression is expected[position][1]
        assert len(converters) == len(expected[position][0])
    params = list(compiled.params)
    params[compiled.slots[0]] = ticket.pk
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, params)
        rows = cursor.fetchall()
    assert rows
    by_results_iter = [list(row) for row in compiler.results_iter([rows])]
    assert [list(row) for row in compiler.apply_converters(rows, compiled.converters)] == (
        by_results_iter
    )
    found = audited(ticket.pk)
    by_orm = list(AuditEntry.objects.select_related("ticket").filter(ticket=ticket))
    assert found == by_orm
    for mine, theirs in zip(found, by_orm, strict=True):
        assert mine.data == theirs.data and mine.at == theirs.at
        assert mine.ticket.received_at == theirs.ticket.received_at


# --- insert ----------------------------------------------------------------------------------


def _ticket(world: World) -> Ticket:
    return ticket_open(
        organisation=world.organisation,
        requester=world.carol,
        subject="Export stopped",
        body="Since 02:00.",
        severity=3,
        channel=Channel.HUB,
        acknowledge=False,
    )


def _columns(obj: object) -> dict[str, object]:
    row = AuditEntry.objects.filter(pk=obj.pk).values().get()  # type: ignore[attr-defined]
    row.pop("id")
    return row


def test_insert_writes_what_bulk_create_writes_and_sets_the_keys(world: World) -> None:
    ticket = _ticket(world)
    at = timezone.now()
    ours = [
        AuditEntry(ticket=ticket, code="x.one", data={"a": [1, "é"], "b": None}, at=at),
        AuditEntry(ticket=ticket, actor=world.carol.user, code="x.two", data={}, at=at),
    ]
    django = [
        AuditEntry(ticket=ticket, code="x.one", data={"a": [1, "é"], "b": None}, at=at),
        AuditEntry(ticket=ticket, actor=world.carol.user, code="x.two", data={}, at=at),
    ]
    with CaptureQueriesContext(connection) as captured:
        insert(ours)
    AuditEntry.objects.bulk_create(django)

    assert len(captured.captured_queries) == 1  # one statement, logged as any query
    assert all(entry.pk is not None and not entry._state.adding for entry in ours)
    assert ours[0].pk != ours[1].pk
    assert [_columns(entry) for entry in ours] == [_columns(entry) for entry in django]
    assert AuditEntry.objects.get(pk=ours[0].pk).data == {"a": [1, "é"], "b": None}


def test_insert_runs_each_field_s_pre_save_as_save_does(world: World) -> None:
    ticket = _ticket(world)  # ticket_open writes its ticket with insert
    stored = Ticket.objects.get(pk=ticket.pk)
    assert ticket.created_at is not None and ticket.updated_at is not None  # auto_now(_add)
    assert stored.created_at == ticket.created_at
    assert stored.updated_at == ticket.updated_at
    assert stored.reference == ticket.reference


def test_a_foreign_key_assigned_before_its_object_was_saved_takes_its_key(world: World) -> None:
    ticket = _ticket(world)
    unsaved = Ticket(organisation=world.organisation, subject="later")
    entry = AuditEntry(ticket=unsaved, code="x", data={}, at=timezone.now())
    with pytest.raises(ValueError, match="unsaved related object"):
        insert([entry])
    entry.ticket = ticket
    ticket_id_before = entry.ticket_id
    insert([entry])
    assert AuditEntry.objects.get(pk=entry.pk).ticket_id == ticket_id_before == ticket.pk


def test_ignore_conflicts_skips_a_row_that_is_there_and_sets_no_key(world: World) -> None:
    def row(subject: str) -> OutboxMessage:
        return OutboxMessage(
            kind=OutboxKind.ACKNOWLEDGED,
            dedupe_key="event:1",
            recipient="carol@example.com",
            subject=subject,
            text_body="t",
            html_body="<p>t</p>",
        )

    first, second = row("first"), row("second")
    insert([first], ignore_conflicts=True)
    insert([second], ignore_conflicts=True)
    # As bulk_create(ignore_conflicts=True): no key, and not known to be saved.
    assert first.pk is None and second.pk is None
    assert first._state.adding and second._state.adding
    assert list(OutboxMessage.objects.values_list("subject", flat=True)) == ["first"]
    with pytest.raises(IntegrityError):
        insert([row("third")])


def test_the_statement_is_written_once_per_shape(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = _ticket(world)
    monkeypatch.setattr(prepared._inserts, "shapes", {})
    written: list[int] = []
    real = prepared._insert_shape

    def counted(connection: object, model: type, rows: int, ignore: bool) -> object:
        written.append(rows)
        return real(connection, model, rows, ignore)

    monkeypatch.setattr(prepared, "_insert_shape", counted)

    def entries(n: int) -> list[AuditEntry]:
        return [AuditEntry(ticket=ticket, code=f"x.{i}", at=timezone.now()) for i in range(n)]

    for n in (1, 2, 1, 2, 1):
        insert(entries(n))
    assert written == [1, 2]
    many = entries(prepared.INSERT_MAX_ROWS + 1)
    insert(many)  # a long list goes through bulk_create
    assert written == [1, 2]
    assert AuditEntry.objects.filter(code__startswith="x.").count() == 7 + len(many)


def test_what_insert_cannot_write_is_refused(world: World) -> None:
    ticket = _ticket(world)
    with pytest.raises(ValueError, match="already has a primary key"):
        insert([ticket])
    with pytest.raises(TypeError, match="one model"):
        insert([AuditEntry(ticket=ticket, code="x", at=timezone.now()), Ticket()])
    expression = AuditEntry(ticket=ticket, code=Upper(Value("x")), at=timezone.now())
    with pytest.raises(ValueError, match="is an expression"):
        insert([expression])
    assert not AuditEntry.objects.filter(code__in=["x", "X"]).exists()


@pytest.mark.parametrize("model", [InboundMessage, Subscription, SupportContact])
def test_model_rows_select_concrete_columns_in_their_order(model: type[Model]) -> None:
    """Hand-written SQL (an UPDATE ... RETURNING, a join) selects concrete_columns and hands
    its rows to model_rows(...).from_rows: both must name the same columns, in one order."""
    compiled = model_rows(model)._compiled("default")
    assert compiled.init_list == [field.attname for field in model._meta.concrete_fields]
    assert f"SELECT {concrete_columns(model, table=model._meta.db_table)} FROM" in compiled.sql
