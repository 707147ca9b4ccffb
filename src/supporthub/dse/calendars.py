"""An engineer's calendar from the database: their place, their days off, their Available
Hours; and the Administrative Day cap of an engagement's twelve-month periods.

The cap (seed 003: "will not exceed sixteen (16) Business Days (or the prorated number of
Business Days for the Services Period)"): an engagement's term is cut into twelve-month
periods from its start; the last may be shorter. A full period allows the policy's
`administrative_days_per_year` (16); a shorter one allows 16 x its days / the days of a full
twelve-month period starting on the same date, **rounded down** to a whole day (the cap is a
limit the engagement must not exceed, so a part day is not granted): a 9-month term from
1 January to 30 September 2026, 273 days, allows 16 x 273 / 365 = 11.97, so 11.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from django.db.models import Q

from supporthub.businesstime import Calendar
from supporthub.dse.availability import EngineerPlace, available_calendar
from supporthub.dse.models import Absence, AbsenceKind
from supporthub.policies import schema
from supporthub.staff.models import StaffMember


def place_of(engineer: StaffMember) -> EngineerPlace:
    return EngineerPlace(
        zone=engineer.time_zone,
        holiday_country=engineer.holiday_country,
        holiday_subdivision=engineer.holiday_subdivision or None,
    )


def absences_of(engineer: StaffMember, *, since: date | None = None) -> Q:
    """The absences that take days from this engineer: their own, and the company holidays
    of their place (the whole country's, and their subdivision's)."""
    scope = Q(engineer=engineer)
    if engineer.holiday_country:
        scope |= Q(
            kind=AbsenceKind.COMPANY_HOLIDAY,
            holiday_country=engineer.holiday_country,
            holiday_subdivision__in=["", engineer.holiday_subdivision],
        )
    if since is not None:
        scope &= Q(end__gte=since)
    return scope


def expand(spans: Iterable[tuple[date, date]]) -> frozenset[date]:
    days: set[date] = set()
    for start, end in spans:
        day = start
        while day <= end:
            days.add(day)
            day += timedelta(days=1)
    return frozenset(days)


def days_off(engineer: StaffMember, *, since: date) -> frozenset[date]:
    """Every date from `since` on that an absence of any kind takes from the engineer."""
    spans = Absence.objects.filter(absences_of(engineer, since=since)).values_list("start", "end")
    return frozenset(day for day in expand(spans) if day >= since)


def engineer_calendar(engineer: StaffMember, hours: schema.Hours, *, since: date) -> Calendar:
    """The engineer's Available Hours from `since` (a local date: earlier days off are not
    read, so ask only about instants from then on)."""
    return available_calendar(hours, place_of(engineer), days_off(engineer, since=since))


@dataclass(frozen=True)
class Period:
    """One twelve-month period of an engagement (the last may be shorter), inclusive."""

    start: date
    end: date
    cap: int


def periods(start: date, end: date, per_year: int) -> list[Period]:
    """The engagement's twelve-month periods with their Administrative Day caps."""
    out: list[Period] = []
    k = 0
    while True:
        first = start + relativedelta(months=12 * k)
        if first > end:
            return out
        full_end = start + relativedelta(months=12 * (k + 1))  # exclusive
        last = min(full_end - timedelta(days=1), end)
        length = (last - first).days + 1
        full = (full_end - first).days
        cap = per_year if length == full else per_year * length // full
        out.append(Period(first, last, cap))
        k += 1
