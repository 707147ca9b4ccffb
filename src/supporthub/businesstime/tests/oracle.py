"""A deliberately naive reference: step through time a minute at a time and ask the wall clock.

It shares nothing with the engine but the definitions of SPEC section 2, so the property
tests compare two independent readings of them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

MINUTE = timedelta(minutes=1)


@cache
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


@dataclass(frozen=True)
class OracleCalendar:
    zone: str
    week: Mapping[int, Sequence[tuple[str, str]]] | None  # None: 24x7x365
    country: str | None = None
    subdivision: str | None = None
    closures: Collection[date] = ()

    def business_day(self, day: date) -> bool:
        if day.weekday() > 4 or day in self.closures:
            return False
        if self.country is None:
            return True
        return day not in _holidays(self.country, self.subdivision, day.year)

    def counts(self, instant: datetime, unit: str) -> bool:
        """Does the minute starting at `instant` count for `unit`?"""
        local = instant.astimezone(ZoneInfo(self.zone))
        if self.week is None:
            return unit != "business_days" or self.business_day(local.date())
        if not self.business_day(local.date()):
            return False
        wall = f"{local.hour:02d}:{local.minute:02d}"
        return any(
            start <= wall < (end if end != "24:00" else "24:01")
            for start, end in self.week.get(local.weekday(), ())
        )

    def due(self, start: datetime, minutes: int, unit: str, limit_days: int = 120) -> datetime:
        """Step minute by minute from `start` until `minutes` counted minutes have passed."""
        instant = start.astimezone(UTC)
        if minutes == 0:
            return instant
        counted = 0
        for _ in range(limit_days * 24 * 60):
            if self.counts(instant, unit):
                counted += 1
                if counted == minutes:
                    return instant + MINUTE
            instant += MINUTE
        raise AssertionError("oracle: no due instant within the limit")

    def elapsed_minutes(self, start: datetime, end: datetime, unit: str) -> int:
        instant, counted = start.astimezone(UTC), 0
        while instant < end:
            counted += self.counts(instant, unit)
            instant += MINUTE
        return counted
