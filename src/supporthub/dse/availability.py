"""Available Hours and the routing decision, with no database: live routing and
`supporthub dse replay` both decide here.

Available Hours (seed 003, definitions 1-3) are the policy's `[dse.available_hours]` windows
(09:00-17:00, Monday to Friday), in the engineer's zone (or the policy's fixed zone), on the
engineer's Business Days: not a national holiday of the engineer's holiday place as the
`holidays` package lists it (observed days included), and not a day off (time off, a company
holiday of the engineer's place, an Administrative Day). Windows are half-open in local wall
time, as the SLA clock's: the calendar is a `supporthub.businesstime.Calendar` whose closures
are the days off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from supporthub.businesstime import Calendar
from supporthub.policies import schema
from supporthub.sla import clocks

Reason = Literal["available", "outside_available_hours", "monthly_limit_reached"]
REASONS: tuple[Reason, ...] = ("available", "outside_available_hours", "monthly_limit_reached")


@dataclass(frozen=True)
class EngineerPlace:
    """Where an engineer works from: the zone and the holiday place (country, subdivision)."""

    zone: str
    holiday_country: str
    holiday_subdivision: str | None = None


def available_calendar(
    hours: schema.Hours, place: EngineerPlace, days_off: Iterable[date] = ()
) -> Calendar:
    """The engineer's Available Hours as a business calendar (shared by everyone with the same
    hours, place and days off)."""
    return clocks.calendar(
        clocks.CalendarKey(
            hours=hours,
            zone=hours.zone or place.zone,
            holiday_country=place.holiday_country,
            holiday_subdivision=place.holiday_subdivision or None,
            closures=frozenset(days_off),
        )
    )


@dataclass(frozen=True)
class Decision:
    """Whether a case received at an instant goes to the DSE, why, and (outside Available
    Hours) when the DSE is next available."""

    to_dse: bool
    reason: Reason
    next_available_at: datetime | None


def decide(
    *,
    calendar: Calendar,
    at: datetime,
    monthly_limit_hours: Decimal,
    hours_logged_this_month: Decimal,
) -> Decision:
    """The routing rule: the Monthly Limit first (hours logged equal to the limit reach it),
    then Available Hours."""
    if hours_logged_this_month >= monthly_limit_hours:
        return Decision(False, "monthly_limit_reached", None)
    if calendar.is_open(at):
        return Decision(True, "available", None)
    return Decision(False, "outside_available_hours", calendar.next_open(at))


def available_now_or_next(calendar: Calendar, at: datetime) -> tuple[bool, datetime, datetime]:
    """(open now, when the current or next span starts, when it ends): for the pages."""
    ((start, end),) = calendar.openings(at, 1)
    return start <= at, start, end
