"""From a policy's hours and a place to a business calendar, and from a target to a due instant.

Calendars are cached by what decides them (hours, zone, holiday place, closures), so every
ticket of the same organisation and level shares one calendar and its built intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

import numpy as np

from supporthub.businesstime import Calendar, HolidayPlace, from_epoch_us, to_epoch_us
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


def point_epochs(
    key: CalendarKey, target: schema.Target, starts: Int64Array, percent: int
) -> Int64Array:
    """The instants `percent`% of `target` has run for clocks started at `starts` (epoch µs).

    A fraction of a target is the same target's counted time scaled (to the microsecond),
    counted on the same timeline as the target itself: 75% of 4 business hours is 3 business
    hours on the ticket's calendar, 75% of 1 business day is 75% of a nominal Business Day
    counted on Business Days. 100% is exactly `due_epochs`.
    """
    if not 0 <= percent <= 100:
        raise ValueError(f"percent: {percent} is not between 0 and 100")
    timeline, micros = calendar(key).counted_amount(target.amount, target.unit)
    part = micros * percent // 100
    starts = np.asarray(starts, dtype=np.int64)
    if timeline is None:
        result: Int64Array = starts + part
        return result
    return timeline.due_many(starts, part)


def point_at(key: CalendarKey, target: schema.Target, start: datetime, percent: int) -> datetime:
    """`point_epochs` for one clock, as a UTC instant."""
    if percent == 100:
        return due_at(key, target, start)
    instant = to_epoch_us(start, "start")
    (epoch,) = point_epochs(key, target, np.array([instant], dtype=np.int64), percent).tolist()
    return from_epoch_us(int(epoch))
