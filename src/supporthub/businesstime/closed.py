"""Closed dates: national holidays from the `holidays` package, and iCalendar closures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays
import icalendar
from dateutil import rrule

from supporthub.businesstime.errors import CalendarError, ICalendarError

# Recurring closures are expanded this far at most; a rule without an end stops here.
MAX_RECURRENCES = 10_000


@dataclass(frozen=True)
class HolidayPlace:
    """The place whose national holidays close Business Days: a country, optional subdivision.

    Observed days are included (the `holidays` package's default), so a holiday that
    falls on a Sunday and is observed on the Monday closes the Monday.
    """

    country: str
    subdivision: str | None = None

    def __post_init__(self) -> None:
        try:
            holidays.country_holidays(self.country, subdiv=self.subdivision, years=())
        except NotImplementedError:
            where = self.country if not self.subdivision else f"{self.country}-{self.subdivision}"
            raise CalendarError(
                f"holidays: {where!r} is not a country (and subdivision) the holidays package knows"
            ) from None

    def dates(self, year: int) -> frozenset[date]:
        return _holiday_dates(self.country, self.subdivision, year)


@lru_cache(maxsize=4096)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


def closures_from_ical(data: bytes | str, *, start: date, end: date) -> dict[date, str]:
    """The dates an iCalendar file closes between `start` and `end` (inclusive), with names.

    Every VEVENT closes the local dates it covers: an all-day event its DTSTART up to
    (not including) its DTEND, a timed event the dates of its start and end. RRULE,
    RDATE and EXDATE are expanded (at most MAX_RECURRENCES occurrences per event).
    """
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as error:
        raise ICalendarError(f"iCalendar: cannot parse the file: {error}") from None
    closed: dict[date, str] = {}
    for number, event in enumerate(calendar.walk("VEVENT"), start=1):
        name = str(event.get("SUMMARY", "")) or f"closure {number}"
        where = f"iCalendar event {number} ({name})"
        if event.get("DTSTART") is None:
            raise ICalendarError(f"{where}: DTSTART is missing")
        first = event.decoded("DTSTART")
        if event.get("DTEND") is not None:
            last = event.decoded("DTEND")
        elif event.get("DURATION") is not None:
            last = first + event.decoded("DURATION")
        else:
            last = first + timedelta(days=1) if _is_date(first) else first
        if type(first) is not type(last):
            raise ICalendarError(f"{where}: DTSTART and DTEND must both be dates or both times")
        length = last - first
        if length < timedelta(0):
            raise ICalendarError(f"{where}: DTEND is before DTSTART")
        for occurrence in _occurrences(event, first, where, end):
            for day in _dates_covered(occurrence, occurrence + length):
                if start <= day <= end:
                    closed.setdefault(day, name)
    return closed


def _is_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _dates_covered(first: date | datetime, last: date | datetime) -> Iterable[date]:
    if _is_date(first):
        day, stop = first, last  # DTEND of an all-day event is exclusive
        if stop <= day:
            stop = day + timedelta(days=1)
        while day < stop:
            yield day
            day += timedelta(days=1)
        return
    if not (isinstance(first, datetime) and isinstance(last, datetime)):
        raise TypeError("expected two dates or two datetimes")
    day, final = first.date(), last.date()
    if last.time() == datetime.min.time() and final > day:
        final -= timedelta(days=1)  # a timed event ending at midnight does not close that day
    while day <= final:
        yield day
        day += timedelta(days=1)


def _occurrences(
    event: icalendar.cal.Component, first: date | datetime, where: str, end: date
) -> list[date | datetime]:
    found: set[date | datetime] = {first}
    if event.get("RRULE") is not None:
        raw = event["RRULE"].to_ical()
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        anchor = (
            first if isinstance(first, datetime) else datetime.combine(first, datetime.min.time())
        )
        try:
            rule = rrule.rrulestr(text, dtstart=anchor, ignoretz=anchor.tzinfo is None)
        except (ValueError, TypeError) as error:
            raise ICalendarError(f"{where}: RRULE {text!r}: {error}") from None
        limit = datetime.combine(end + timedelta(days=1), datetime.min.time(), anchor.tzinfo)
        for count, occurrence in enumerate(rule, start=1):
            if occurrence >= limit or count > MAX_RECURRENCES:
                break
            found.add(occurrence if isinstance(first, datetime) else occurrence.date())
    for key, add in (("RDATE", True), ("EXDATE", False)):
        values = event.get(key)
        if values is None:
            continue
        for entry in values if isinstance(values, list) else [values]:
            for item in entry.dts:
                moment: date | datetime = item.dt
                if not isinstance(first, datetime) and isinstance(moment, datetime):
                    moment = moment.date()
                if add:
                    found.add(moment)
                else:
                    found.discard(moment)
    return sorted(found, key=_sort_key)


def _sort_key(value: date | datetime) -> tuple[date, float]:
    if isinstance(value, datetime):
        return value.date(), value.timestamp() if value.tzinfo else 0.0
    return value, 0.0
