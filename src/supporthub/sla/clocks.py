"""From a policy's hours and a place to a business calendar, and from a target to a due instant.

Calendars are cached by what decides them (hours, zone, holiday place, closures), so every
ticket of the same organisation and level shares one calendar and its built intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from supporthub.businesstime import Calendar, HolidayPlace
from supporthub.businesstime.timeline import Int64Array
from supporthub.policies import schema


@dataclass(frozen=True)
class CalendarKey:
    """Everything that decides a clock's calendar; hashable, so calendars are shared."""

    hours: schema.Hours
    zone: str
    holiday_country: str
    holiday_subdivision: str | None
    closures: frozenset[date]


@lru_cache(maxsize=2048)
def calendar(key: CalendarKey) -> Calendar:
    holidays = (
        HolidayPlace(key.holiday_country, key.holiday_subdivision or None)
        if key.holiday_country
        else None
    )
    if key.hours.always:
        return Calendar.always(
            key.zone, weekdays=key.hours.weekdays, holidays=holidays, closures=key.closures
        )
    return Calendar.windows(
        key.zone,
        [(window.start, window.end) for window in key.hours.windows],
        weekdays=key.hours.weekdays,
        holidays=holidays,
        closures=key.closures,
    )


def due_at(key: CalendarKey, target: schema.Target, start: datetime) -> datetime:
    """The first-response due instant (UTC) of `target` for a clock started at `start`."""
    return calendar(key).due(start, target.amount, target.unit)


def due_epochs(key: CalendarKey, target: schema.Target, starts: Int64Array) -> Int64Array:
    """`due_at` for many starts at once, as epoch microseconds."""
    return calendar(key).due_epochs(starts, target.amount, target.unit)
