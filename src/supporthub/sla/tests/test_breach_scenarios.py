"""Breach warnings on the clock, with time-machine: weekends, holidays of one country and not
the other, and each zone's daylight-saving switch (seed 003 policy, Base business hours:
08:00-18:00 on Business Days; Severity 1 = 4 business hours, 2 = 1 business day).

The scheduler is simulated by scanning every hour on the hour and at the second before and
the instant of each expected point: each point must fire exactly at its instant, once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from supporthub.customers.models import Organisation
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.sla.warnings import breach_scan
from supporthub.staff.models import StaffMember
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket
from supporthub.testing.world import World
from supporthub.tickets.models import AuditEntry, Channel, Ticket

NY = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")


def _org(*, zone: ZoneInfo, holiday_country: str, manager: StaffMember) -> Organisation:
    organisation = f.organisation(
        time_zone=str(zone), holiday_country=holiday_country, account_manager=manager
    )
    f.subscribe(organisation, level="gold")  # Gold -> Base
    f.add_contact(organisation, "Requester")
    return organisation


def fired(ticket: Ticket) -> list[tuple[str, int, datetime]]:
    """The warnings notified on a ticket: (code, point, when the scan sent it)."""
    return [
        (entry.code, entry.data["point"], entry.at)
        for entry in AuditEntry.objects.filter(
            ticket=ticket, code__in=["sla.warning", "sla.breached"]
        ).order_by("at", "pk")
    ]


def run_scenario(
    world: World,
    *,
    zone: ZoneInfo,
    holiday_country: str,
    severity: int,
    opened: datetime,
    warn: datetime,
    due: datetime,
) -> Ticket:
    organisation = _org(zone=zone, holiday_country=holiday_country, manager=world.amy)
    with time_machine.travel(opened, tick=False) as clock:
        ticket = open_ticket(
            organisation=organisation,
            requester=organisation.support_contacts.first(),
            subject="The export fails",
            body="Details",
            severity=severity,
            channel=Channel.HUB,
        )
        Ticket.objects.filter(pk=ticket.pk).update(assignee=world.alice)
        assert ticket.first_response_due_at == due
        assert ticket.sla_next_warning_at == warn
        hour = opened.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        checkpoints = {hour + timedelta(hours=n) for n in range(1, 24 * 7)}
        checkpoints = {at for at in checkpoints if at <= due + timedelta(hours=2)}
        second = timedelta(seconds=1)
        checkpoints |= {warn - second, warn, due - second, due, due + timedelta(seconds=30)}
        for at in sorted(checkpoints):
            clock.move_to(at)
            breach_scan()
            expected = []
            if at >= warn:
                expected.append(("sla.warning", 75, warn))
            if at >= due:
                expected.append(("sla.breached", 100, due))
            assert fired(ticket) == expected, f"scanned at {at.isoformat()}"
    rows = OutboxMessage.objects.filter(ticket=ticket).exclude(kind=OutboxKind.ACKNOWLEDGED)
    mails = sorted((row.kind, row.recipient) for row in rows)
    expected_mails = [
        (kind, person.user.email)
        for kind in (OutboxKind.SLA_BREACHED, OutboxKind.SLA_WARNING)
        for person in sorted([world.alice, world.amy], key=lambda p: p.user.email)
    ]
    if severity == 1:  # the breach of Severity 1 escalates: one mail to the CS lead
        expected_mails.append((OutboxKind.ESCALATED, world.lee.user.email))
    assert mails == sorted(expected_mails)
    return ticket


def ny(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def paris(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


@pytest.mark.django_db
def test_across_a_weekend(world: World) -> None:
    # Friday 16:00: 2 h on Friday, then Monday. 75% of 4 business hours = 3 business hours.
    run_scenario(
        world,
        zone=NY,
        holiday_country="US",
        severity=1,
        opened=ny(2025, 2, 28, 16, 0),
        warn=ny(2025, 3, 3, 9, 0),
        due=ny(2025, 3, 3, 10, 0),
    )


@pytest.mark.django_db
def test_one_business_day_warning_is_75_percent_of_business_time_not_wall_time(
    world: World,
) -> None:
    # Wednesday 12:00 + 1 business day (10 h): 6 h on Wednesday, 4 h on Thursday. 75% is
    # 7.5 business hours (Thursday 09:30), not 75% of the 22 wall-clock hours.
    run_scenario(
        world,
        zone=NY,
        holiday_country="US",
        severity=2,
        opened=ny(2025, 6, 11, 12, 0),
        warn=ny(2025, 6, 12, 9, 30),
        due=ny(2025, 6, 12, 12, 0),
    )


@pytest.mark.django_db
def test_thanksgiving_closes_a_us_calendar(world: World) -> None:
    # Thanksgiving (Thursday 27 November 2025) is skipped; Friday is a Business Day.
    run_scenario(
        world,
        zone=NY,
        holiday_country="US",
        severity=2,
        opened=ny(2025, 11, 26, 12, 0),
        warn=ny(2025, 11, 28, 9, 30),
        due=ny(2025, 11, 28, 12, 0),
    )


@pytest.mark.django_db
def test_thanksgiving_is_a_business_day_in_france(world: World) -> None:
    run_scenario(
        world,
        zone=PARIS,
        holiday_country="FR",
        severity=2,
        opened=paris(2025, 11, 26, 12, 0),
        warn=paris(2025, 11, 27, 9, 30),
        due=paris(2025, 11, 27, 12, 0),
    )


@pytest.mark.django_db
def test_bastille_day_closes_a_french_calendar(world: World) -> None:
    # Friday 11 July 16:00 + 4 business hours; Monday 14 July is closed in France.
    run_scenario(
        world,
        zone=PARIS,
        holiday_country="FR",
        severity=1,
        opened=paris(2025, 7, 11, 16, 0),
        warn=paris(2025, 7, 15, 9, 0),
        due=paris(2025, 7, 15, 10, 0),
    )


@pytest.mark.django_db
def test_bastille_day_is_a_business_day_in_the_us(world: World) -> None:
    run_scenario(
        world,
        zone=NY,
        holiday_country="US",
        severity=1,
        opened=ny(2025, 7, 11, 16, 0),
        warn=ny(2025, 7, 14, 9, 0),
        due=ny(2025, 7, 14, 10, 0),
    )


@pytest.mark.django_db
def test_8_may_closes_a_french_calendar_not_a_us_one(world: World) -> None:
    # Wednesday 7 May 2025 12:00 + 1 business day; Thursday 8 May is Victoire 1945 in France.
    run_scenario(
        world,
        zone=PARIS,
        holiday_country="FR",
        severity=2,
        opened=paris(2025, 5, 7, 12, 0),
        warn=paris(2025, 5, 9, 9, 30),
        due=paris(2025, 5, 9, 12, 0),
    )


@pytest.mark.django_db
def test_8_may_is_a_business_day_in_the_us(world: World) -> None:
    run_scenario(
        world,
        zone=NY,
        holiday_country="US",
        severity=2,
        opened=ny(2025, 5, 7, 12, 0),
        warn=ny(2025, 5, 8, 9, 30),
        due=ny(2025, 5, 8, 12, 0),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "country"), [(PARIS, "FR"), (NY, "US")], ids=["armistice-FR", "veterans-day-US"]
)
def test_11_november_closes_both_calendars(world: World, zone: ZoneInfo, country: str) -> None:
    # 11 November is Armistice Day in France and Veterans Day (a federal holiday) in the US:
    # both calendars skip Tuesday 11 November 2025.
    run_scenario(
        world,
        zone=zone,
        holiday_country=country,
        severity=2,
        opened=datetime(2025, 11, 10, 12, 0, tzinfo=zone),
        warn=datetime(2025, 11, 12, 9, 30, tzinfo=zone),
        due=datetime(2025, 11, 12, 12, 0, tzinfo=zone),
    )


# Daylight saving: the US switches on the second Sunday of March and the first Sunday of
# November, the EU on the last Sundays of March and October. Instants are asserted in UTC:
# a calendar that ignored the switch would be an hour off.


@pytest.mark.django_db
def test_us_spring_forward(world: World) -> None:
    # Friday 7 March 16:00 EST (21:00Z); Sunday 9 March 2025 the US moves to EDT.
    run_scenario(
        world,
        zone=NY,
        holiday_country="US",
        severity=1,
        opened=datetime(2025, 3, 7, 21, 0, tzinfo=UTC),
        warn=datetime(2025, 3, 10, 13, 0, tzinfo=UTC),  # 09:00 EDT
        due=datetime(2025, 3, 10, 14, 0, tzinfo=UTC),  # 10:00 EDT
    )


@pytest.mark.django_db
def test_paris_is_unmoved_by_the_us_spring_forward(world: World) -> None:
    run_scenario(
        world,
        zone=PARIS,
        holiday_country="FR",
        severity=1,
        opened=datetime(2025, 3, 7, 15, 0, tzinfo=UTC),  # 16:00 CET
        warn=datetime(2025, 3, 10, 8, 0, tzinfo=UTC),  # 09:00 CET
        due=datetime(2025, 3, 10, 9, 0, tzinfo=UTC),  # 10:00 CET
    )


@pytest.mark.django_db
def test_eu_spring_forward(world: World) -> None:
    # Friday 28 March 16:00 CET (15:00Z); Sunday 30 March 2025 Paris moves to CEST.
    run_scenario(
        world,
        zone=PARIS,
        holiday_country="FR",
        severity=1,
        opened=datetime(2025, 3, 28, 15, 0, tzinfo=UTC),
        warn=datetime(2025, 3, 31, 7, 0, tzinfo=UTC),  # 09:00 CEST
        due=datetime(2025, 3, 31, 8, 0, tzinfo=UTC),  # 10:00 CEST
    )


@pytest.mark.django_db
def test_eu_fall_back(world: World) -> None:
    # Friday 24 October 16:00 CEST (14:00Z); Sunday 26 October 2025 Paris returns to CET.
    run_scenario(
        world,
        zone=PARIS,
        holiday_country="FR",
        severity=1,
        opened=datetime(2025, 10, 24, 14, 0, tzinfo=UTC),
        warn=datetime(2025, 10, 27, 8, 0, tzinfo=UTC),  # 09:00 CET
        due=datetime(2025, 10, 27, 9, 0, tzinfo=UTC),  # 10:00 CET
    )


@pytest.mark.django_db
def test_new_york_is_unmoved_by_the_eu_fall_back(world: World) -> None:
    run_scenario(
        world,
        zone=NY,
        holiday_country="US",
        severity=1,
        opened=datetime(2025, 10, 24, 20, 0, tzinfo=UTC),  # 16:00 EDT
        warn=datetime(2025, 10, 27, 13, 0, tzinfo=UTC),  # 09:00 EDT
        due=datetime(2025, 10, 27, 14, 0, tzinfo=UTC),  # 10:00 EDT
    )


@pytest.mark.django_db
def test_us_fall_back(world: World) -> None:
    # Friday 31 October 16:00 EDT (20:00Z); Sunday 2 November 2025 the US returns to EST.
    run_scenario(
        world,
        zone=NY,
        holiday_country="US",
        severity=1,
        opened=datetime(2025, 10, 31, 20, 0, tzinfo=UTC),
        warn=datetime(2025, 11, 3, 14, 0, tzinfo=UTC),  # 09:00 EST
        due=datetime(2025, 11, 3, 15, 0, tzinfo=UTC),  # 10:00 EST
    )
