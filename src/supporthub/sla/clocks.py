"""From a policy's hours and a place to a business calendar, and from a target to a due instant
and the breach-warning instants before it.

Calendars are cached by what decides them (hours, zone, holiday place, closures), so every
ticket of the same organisation and level shares one calendar and its built intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from supporthub.businesstime import Calendar, HolidayPlace, from_epoch_us, to_epoch_us
from supporthub.businesstime.timeline import Int64Array
from supporthub.policies import schema

if TYPE_CHECKING:
    from supporthub.tickets.models import Ticket


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC ending in Z, the one form the product writes instants in."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


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


def warning_points() -> tuple[int, ...]:
    """The configured breach-warning points, percentages of the target; 100 is the breach."""
    return tuple(settings.SLA_WARNING_POINTS)


def warning_instants(
    *, ticket: Ticket, calendar: CalendarKey, target: schema.Target
) -> dict[int, datetime]:
    """Each warning point not yet notified on this clock, and the instant it falls due."""
    due = ticket.first_response_due_at
    instants: dict[int, datetime] = {}
    for point in warning_points():
        if point <= ticket.sla_warned_point:
            continue
        if point == 100 and due is not None:
            instants[point] = due  # the stored due instant is the truth for the breach
        else:
            instants[point] = point_at(calendar, target, ticket.received_at, point)
    return instants


def next_warning_at(
    *, ticket: Ticket, calendar: CalendarKey, target: schema.Target
) -> datetime | None:
    """The instant of the next warning to fire on this clock; None when all have fired."""
    instants = warning_instants(ticket=ticket, calendar=calendar, target=target)
    return instants[min(instants)] if instants else None
