"""Closures kept per process while the CalendarStamp token is unchanged: every kind of write
to the closures table renews the token (database triggers), a rolled-back one never comes
back, and a ticket opened after a change always sees it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from supporthub.customers.models import Organisation
from supporthub.sla import calendars
from supporthub.sla.models import CalendarStamp, Closure
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket
from supporthub.tickets.models import Channel, Ticket

NY = ZoneInfo("America/New_York")
TUESDAY = datetime(2025, 3, 4, 8, 0, tzinfo=NY)  # due 18:00 the same day at Gold, Severity 2


@pytest.fixture(autouse=True)
def _empty_cache(db: None) -> Iterator[None]:
    # A transactional test run before this one in the process flushed the row migrate wrote.
    CalendarStamp.objects.get_or_create(pk=1, defaults={"token": uuid.uuid4().hex})
    calendars._closures.clear()
    yield
    calendars._closures.clear()


def _org() -> Organisation:
    organisation = f.organisation(time_zone="America/New_York")
    f.subscribe(organisation, level="gold")
    f.add_contact(organisation, "Requester")
    return organisation


def _open(organisation: Organisation) -> Ticket:
    return open_ticket(
        organisation=organisation,
        requester=organisation.support_contacts.first(),
        subject="Something is wrong",
        body="Details",
        severity=2,
        channel=Channel.HUB,
        received_at=TUESDAY,
    )


def _due_day(ticket: Ticket) -> date:
    assert ticket.first_response_due_at is not None
    return ticket.first_response_due_at.astimezone(NY).date()


def _closure_reads(organisation: Organisation) -> int:
    with CaptureQueriesContext(connection) as captured:
        _open(organisation)
    return sum('"sla_closure"' in q["sql"] for q in captured.captured_queries)


def _token() -> str:
    return CalendarStamp.objects.get(pk=1).token


@pytest.mark.django_db
def test_closures_are_read_once_while_nothing_changes() -> None:
    organisation = _org()
    assert _closure_reads(organisation) == 1
    assert _closure_reads(organisation) == 0
    assert _closure_reads(organisation) == 0


@pytest.mark.django_db
def test_every_kind_of_write_renews_the_token() -> None:
    organisation = _org()
    seen = {_token()}
    closure = Closure.objects.create(
        date=date(2025, 3, 4), name="Offsite", organisation=organisation
    )
    seen.add(_token())
    Closure.objects.filter(pk=closure.pk).update(name="Company offsite")
    seen.add(_token())
    with connection.cursor() as cursor:
        cursor.execute("UPDATE sla_closure SET date = %s", [date(2025, 3, 5)])
    seen.add(_token())
    Closure.objects.filter(pk=closure.pk).delete()
    seen.add(_token())
    assert len(seen) == 5


@pytest.mark.django_db
def test_a_ticket_opened_after_a_change_sees_it() -> None:
    organisation = _org()
    assert _due_day(_open(organisation)) == date(2025, 3, 4)  # kept: no closures
    closure = Closure.objects.create(
        date=date(2025, 3, 4), name="Offsite", organisation=organisation
    )
    assert _due_day(_open(organisation)) == date(2025, 3, 5)
    Closure.objects.create(date=date(2025, 3, 4), name="Storm", holiday_country="US")
    closure.delete()
    assert _due_day(_open(organisation)) == date(2025, 3, 5)  # the country's closure now
    Closure.objects.filter(holiday_country="US").delete()
    assert _due_day(_open(organisation)) == date(2025, 3, 4)


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_trace_in_the_cache() -> None:
    organisation = _org()
    with pytest.raises(RuntimeError), transaction.atomic():
        Closure.objects.create(date=date(2025, 3, 4), name="Offsite", organisation=organisation)
        assert _due_day(_open(organisation)) == date(2025, 3, 5)  # kept under its own token
        raise RuntimeError("roll back")
    assert _due_day(_open(organisation)) == date(2025, 3, 4)
    # Another change afterwards gets a token of its own, never the rolled-back one's.
    Closure.objects.create(date=date(2025, 3, 6), name="Other", organisation=organisation)
    assert _due_day(_open(organisation)) == date(2025, 3, 4)


@pytest.mark.django_db
def test_without_the_stamp_row_closures_are_read_every_time() -> None:
    organisation = _org()
    CalendarStamp.objects.all().delete()
    assert _closure_reads(organisation) == 1
    assert _closure_reads(organisation) == 1
    # The next write to the closures brings the row back (the triggers upsert it).
    Closure.objects.create(date=date(2025, 3, 6), name="Other", organisation=organisation)
    assert CalendarStamp.objects.filter(pk=1).exists()


@pytest.mark.django_db
def test_the_triggers_exist_after_every_migration() -> None:
    # On SQLite a migration that rebuilds sla_closure drops them silently: this says so.
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'sla_closure'"
            )
            expected = {f"sla_closure_stamp_{event}" for event in ("insert", "update", "delete")}
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'sla_closure'::regclass "
                "AND NOT tgisinternal"
            )
            expected = {"sla_closure_stamp"}
        assert {row[0] for row in cursor.fetchall()} == expected
