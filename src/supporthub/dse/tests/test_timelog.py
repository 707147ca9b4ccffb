"""Time against the Monthly Limit: the DSE's entries count, anyone else's are recorded; work
past the limit is recorded and flagged; the 80% and 100% warnings go to the DSE and the
account manager once a month, even when two entries cross the threshold at the same time."""

from __future__ import annotations

import threading
from datetime import date

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from supporthub.dse.models import TimeEntry, UsageWarning
from supporthub.dse.selectors import month_usage
from supporthub.dse.tests.test_routing import TUESDAY_0900_LA
from supporthub.dse.tests.world import DseWorld, open_case
from supporthub.dse.timelog import time_entry_log
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.tickets.models import AuditEntry

NOW = "2026-12-18T12:00:00Z"


def _warnings() -> list[tuple[str, str]]:
    return sorted(
        (m.recipient, m.subject)
        for m in OutboxMessage.objects.filter(kind=OutboxKind.DSE_USAGE_WARNING)
    )


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_warnings_at_80_and_100_percent_once_each_and_over_limit_work_is_flagged(
    dse: DseWorld,
) -> None:
    case = open_case(dse, TUESDAY_0900_LA)
    first = time_entry_log(ticket=case, engineer=dse.dora, minutes=1199, on=date(2026, 12, 1))
    assert not first.over_limit and _warnings() == []  # 19.98 hours: under 80%
    time_entry_log(ticket=case, engineer=dse.dora, minutes=1, on=date(2026, 12, 2))  # 20 h
    assert _warnings() == [
        ("amy@example.com", "Globex: 80% of the DSE hours used in December 2026"),
        ("dora@vendor.example", "Globex: 80% of the DSE hours used in December 2026"),
    ]
    time_entry_log(ticket=case, engineer=dse.dora, minutes=60, on=date(2026, 12, 3))
    assert len(_warnings()) == 2  # 21 h: still once
    last = time_entry_log(ticket=case, engineer=dse.dora, minutes=300, on=date(2026, 12, 4))
    assert last.over_limit  # 26 h of 25
    assert len(_warnings()) == 4
    mail = OutboxMessage.objects.get(
        kind=OutboxKind.DSE_USAGE_WARNING,
        recipient="dora@vendor.example",
        subject__contains="whole",
    )
    assert "26 of 25 hours used in December 2026" in mail.text_body
    assert "26 of 25 hours used in December 2026" in mail.html_body
    time_entry_log(ticket=case, engineer=dse.dora, minutes=30, on=date(2026, 12, 5))
    assert len(_warnings()) == 4
    assert UsageWarning.objects.count() == 2
    entry = AuditEntry.objects.filter(ticket=case, code="dse.time_logged").last()
    assert entry is not None and entry.data["over_limit"] is True


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_another_engineers_time_is_recorded_not_counted_and_months_do_not_carry_over(
    dse: DseWorld,
) -> None:
    case = open_case(dse, TUESDAY_0900_LA)
    eric = time_entry_log(ticket=case, engineer=dse.eric, minutes=1400, on=date(2026, 12, 1))
    assert not eric.counts_toward_limit and not eric.over_limit
    time_entry_log(ticket=case, engineer=dse.dora, minutes=600, on=date(2026, 11, 30))
    usage = month_usage(engagement=dse.engagement, month=date(2026, 12, 1))
    assert usage.minutes == 0 and usage.describe() == "0 of 25 hours used in December 2026"
    assert _warnings() == []


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_bad_entries_are_refused_and_write_nothing(dse: DseWorld) -> None:
    case = open_case(dse, TUESDAY_0900_LA)
    for minutes, on, field in [
        (0, None, "minutes"),
        (24 * 60 + 1, None, "minutes"),
        (30, date(2026, 12, 19), "date"),  # tomorrow in Berlin
        (30, date(2025, 12, 31), "date"),  # before the engagement
    ]:
        with pytest.raises(ValidationError) as refused:
            time_entry_log(ticket=case, engineer=dse.dora, minutes=minutes, on=on)
        assert field in refused.value.message_dict
    assert not TimeEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_entries_crossing_the_limit_at_once_send_one_warning(
    django_db_blocker: object,
) -> None:
    if not connection.features.has_select_for_update:
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE instead of row locks")
    from supporthub.dse.tests.world import make_dse_world
    from supporthub.testing.world import make_world

    dse = make_dse_world(make_world())
    case = open_case(dse, TUESDAY_0900_LA)
    time_entry_log(ticket=case, engineer=dse.dora, minutes=1400, on=date(2026, 12, 1))
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def log() -> None:
        try:
            barrier.wait(timeout=10)
            time_entry_log(ticket=case, engineer=dse.dora, minutes=100, on=date(2026, 12, 2))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    with time_machine.travel(NOW, tick=False):
        threads = [threading.Thread(target=log) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == []
    # 1400 + 100 reaches 25 hours exactly; the second entry goes over it and is flagged.
    assert sorted(TimeEntry.objects.values_list("over_limit", flat=True)) == [False, False, True]
    assert list(UsageWarning.objects.values_list("threshold", flat=True)) == [80, 100]
    hundred = OutboxMessage.objects.filter(
        kind=OutboxKind.DSE_USAGE_WARNING, subject__contains="whole"
    )
    assert sorted(m.recipient for m in hundred) == ["amy@example.com", "dora@vendor.example"]
