"""A business calendar: an IANA zone, weekly windows or 24x7x365, and closed dates.

Definitions (SPEC section 2):

- A **Business Day** is a local date whose weekday is a business weekday (Monday to
  Friday unless told otherwise) and which is neither a national holiday of the holiday
  place nor a custom closure.
- An instant is **open** when its local wall time, in the calendar's zone, falls in one of
  the windows [start, end) of its local date and that date is a Business Day. A 24x7x365
  calendar is open at every instant, holidays too. Because the test is on wall time, a
  window boundary in a skipped hour opens (or closes) at the switch instant, and a
  repeated hour is open on each pass that falls in a window.
- Minutes, hours and business hours count open instants (plain elapsed time on 24x7x365).
- Business days count N times the nominal length of one business day, over the instants
  of Business Days inside the windows (on 24x7x365: whole Business Days, local midnight
  to local midnight, so one business day is 24 hours counted only on Business Days).
- The due instant is the earliest instant at which the counted time equals the target.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from supporthub.businesstime.closed import HolidayPlace
from supporthub.businesstime.errors import CalendarError, NaiveDatetimeError
from supporthub.businesstime.timeline import EPOCH, MICROS, Int64Array, Timeline, year_start

Unit = Literal["minutes", "hours", "business_hours", "business_days"]
UNITS: tuple[Unit, ...] = ("minutes", "hours", "business_hours", "business_days")
MON_FRI = (0, 1, 2, 3, 4)
DAY = 86_400
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Offsets are sampled this often to find a zone's transitions (none are closer together).
_SAMPLE = 2 * 3600

WindowSpec = tuple[str, str]
_Windows = tuple[tuple[int, int], ...]  # seconds of the local day, [start, end)


@dataclass(frozen=True)
class PausedClock:
    """A stopped clock: the counted time it still had to run, and what it counts."""

    remaining: timedelta
    unit: Unit


def parse_wall_time(text: str, *, where: str, end: bool) -> int:
    """'HH:MM' or 'HH:MM:SS' as seconds of the day; '24:00' only as an end."""
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
            raise ValueError
        hours, minutes = int(parts[0]), int(parts[1])
        seconds = int(parts[2]) if len(parts) == 3 else 0
    except ValueError:
        raise CalendarError(f'{where}: "{text}" is not a time of day (HH:MM)') from None
    value = hours * 3600 + minutes * 60 + seconds
    if minutes > 59 or seconds > 59 or value > DAY or (value == DAY and not end):
        allowed = "00:00 to 24:00" if end else "00:00 to 23:59"
        raise CalendarError(f'{where}: "{text}" is not a time of day ({allowed})')
    return value


def _parse_week(week: Mapping[int, Sequence[WindowSpec]]) -> dict[int, _Windows]:
    parsed: dict[int, _Windows] = {}
    for weekday, windows in week.items():
        if weekday not in range(7):
            raise CalendarError(f"windows: weekday {weekday} is not 0 (Monday) to 6 (Sunday)")
        name = WEEKDAY_NAMES[weekday]
        spans = []
        for start_text, end_text in windows:
            where = f"windows: {name} {start_text}-{end_text}"
            start = parse_wall_time(start_text, where=where, end=False)
            end = parse_wall_time(end_text, where=where, end=True)
            if end <= start:
                raise CalendarError(f"{where}: the end must be after the start")
            spans.append((start, end))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start < merged[-1][1]:
                raise CalendarError(f"windows: {name}: windows overlap")
            if merged and start == merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        if merged:
            parsed[weekday] = tuple(merged)
    return parsed


@lru_cache(maxsize=1024)
def zone_segments(zone_name: str, year: int) -> tuple[tuple[int, int, int], ...]:
    """The UTC year as (start, end, UTC offset) segments of constant offset, in seconds."""
    zone = ZoneInfo(zone_name)
    lo, hi = year_start(year) // MICROS, year_start(year + 1) // MICROS

    def offset(at: int) -> int:
        delta = datetime.fromtimestamp(at, zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    segments: list[tuple[int, int, int]] = []
    start, current = lo, offset(lo)
    known = lo  # the last second seen to have the current offset
    while known < hi - 1:
        probe = min(known + _SAMPLE, hi - 1)
        if offset(probe) == current:
            known = probe
            continue
        # Bisect for the first second of the new offset inside (known, probe].
        low, high = known, probe
        while high - low > 1:
            middle = (low + high) // 2
            if offset(middle) == current:
                low = middle
            else:
                high = middle
        segments.append((start, high, current))
        start, current, known = high, offset(high), high
    segments.append((start, hi, current))
    return tuple(segments)


class Calendar:
    """A business calendar. Build with `Calendar.windows(...)` or `Calendar.always(...)`."""

    def __init__(
        self,
        zone: str,
        *,
        week: Mapping[int, Sequence[WindowSpec]] | None,
        weekdays: Iterable[int] = MON_FRI,
        holidays: HolidayPlace | None = None,
        closures: Iterable[date] = (),
        business_day: timedelta | None = None,
    ) -> None:
        try:
            self.zone = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(f"zone: {zone!r} is not an IANA time zone") from None
        self.zone_name = zone
        self.all_hours = week is None
        self.business_weekdays = frozenset(weekdays)
        if not self.business_weekdays <= set(range(7)):
            raise CalendarError("weekdays: use 0 (Monday) to 6 (Sunday)")
        if not self.business_weekdays:
            raise CalendarError("weekdays: a calendar needs at least one business weekday")
        self.holidays = holidays
        self.closures = frozenset(closures)
        if week is None:
            day_windows: dict[int, _Windows] = {d: ((0, DAY),) for d in self.business_weekdays}
        else:
            day_windows = {
                d: w for d, w in _parse_week(week).items() if d in self.business_weekdays
            }
            if not day_windows:
                raise CalendarError(
                    "windows: no window on any business weekday; the calendar would never open"
                )
        self._week = day_windows
        if business_day is not None:
            self.business_day_seconds = int(business_day.total_seconds())
            if self.business_day_seconds <= 0:
                raise CalendarError("business_day: must be a positive duration")
        else:
            self.business_day_seconds = _nominal_day(day_windows)
        name = f"calendar {zone}"
        self._days = Timeline(self._block, what=name)
        # Open hours and Business-Day hours are the same instants, except on 24x7x365.
        self._hours: Timeline | None = None if self.all_hours else self._days
        # unit -> (what it counts on, microseconds per unit); None counts plain elapsed time.
        self._units: dict[str, tuple[Timeline | None, int]] = {
            "minutes": (self._hours, 60 * MICROS),
            "hours": (self._hours, 3600 * MICROS),
            "business_hours": (self._hours, 3600 * MICROS),
            "business_days": (self._days, self.business_day_seconds * MICROS),
        }

    @classmethod
    def windows(
        cls,
        zone: str,
        windows: Sequence[WindowSpec],
        *,
        weekdays: Iterable[int] = MON_FRI,
        holidays: HolidayPlace | None = None,
        closures: Iterable[date] = (),
    ) -> Calendar:
        """The same windows on every business weekday, e.g. [("08:00", "18:00")]."""
        days = tuple(weekdays)
        return cls(
            zone,
            week={d: windows for d in days},
            weekdays=days,
            holidays=holidays,
            closures=closures,
        )

    @classmethod
    def always(
        cls,
        zone: str,
        *,
        weekdays: Iterable[int] = MON_FRI,
        holidays: HolidayPlace | None = None,
        closures: Iterable[date] = (),
    ) -> Calendar:
        """24x7x365: every instant is open; Business Days still matter for business days."""
        return cls(zone, week=None, weekdays=weekdays, holidays=holidays, closures=closures)

    # Dates ----------------------------------------------------------------------------

    def is_business_day(self, day: date) -> bool:
        if day.weekday() not in self.business_weekdays or day in self.closures:
            return False
        return self.holidays is None or day not in self.holidays.dates(day.year)

    def _block(self, year: int) -> list[tuple[int, int]]:
        """The counted intervals of Business Days inside the windows, for one UTC year (µs)."""
        intervals: list[tuple[int, int]] = []
        for seg_start, seg_end, offset in zone_segments(self.zone_name, year):
            wall_lo, wall_hi = seg_start + offset, seg_end + offset
            day = (EPOCH + timedelta(seconds=wall_lo)).date()
            midnight = wall_lo - wall_lo % DAY
            while midnight < wall_hi:
                windows = self._week.get(day.weekday())
                if windows and self.is_business_day(day):
                    for start, end in windows:
                        lo = max(midnight + start, wall_lo)
                        hi = min(midnight + end, wall_hi)
                        if lo < hi:
                            intervals.append(((lo - offset) * MICROS, (hi - offset) * MICROS))
                midnight += DAY
                day += timedelta(days=1)
        return intervals

    # Queries --------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        instant = to_epoch_us(at, "at")
        return self._hours is None or self._hours.is_counting(instant)

    def next_open(self, at: datetime) -> datetime:
        """`at` (in UTC) if the calendar is open then, else the next opening."""
        instant = to_epoch_us(at, "at")
        if self._hours is None:
            return from_epoch_us(instant)
        return from_epoch_us(self._hours.next_counting(instant))

    def openings(self, at: datetime, limit: int) -> list[tuple[datetime, datetime]]:
        """The open spans (UTC) that end after `at`, the current one first, `limit` of them.

        A span runs across a skipped or repeated hour as `is_open` does: it is the calendar's
        own intervals, merged where one ends as the next begins. A 24x7x365 calendar has no
        spans (it is always open): ValueError.
        """
        if self._hours is None:
            raise ValueError("a 24x7x365 calendar is always open: it has no openings to list")
        spans = self._hours.intervals_after(to_epoch_us(at, "at"), limit)
        return [(from_epoch_us(start), from_epoch_us(end)) for start, end in spans]

    def counted_amount(self, amount: int, unit: Unit) -> tuple[Timeline | None, int]:
        """What an amount of a unit counts on, and how many microseconds of it."""
        if amount < 0:
            raise CalendarError(f"amount: {amount} is negative")
        try:
            timeline, per_unit = self._units[unit]
        except KeyError:
            raise CalendarError(f"unit: {unit!r} is not one of {', '.join(UNITS)}") from None
        return timeline, amount * per_unit

    def due(self, start: datetime, amount: int, unit: Unit) -> datetime:
        """The due instant (UTC) of a target of `amount` `unit` started at `start`.

        The product's hot path: `to_epoch_us`, `from_epoch_us` and the common case of
        `Timeline.due` (the view already covers the start and the target) are inlined,
        because each call costs about as much as the search; `make bench` measures it.
        Anything else goes through `Timeline.due`.
        """
        try:
            delta = start - EPOCH
        except TypeError:
            to_epoch_us(start, "start")  # raises the precise error
            raise
        instant = (delta.days * DAY + delta.seconds) * MICROS + delta.microseconds
        try:
            timeline, per_unit = self._units[unit]
        except KeyError:
            raise CalendarError(f"unit: {unit!r} is not one of {', '.join(UNITS)}") from None
        if amount < 0:
            raise CalendarError(f"amount: {amount} is negative")
        micros = amount * per_unit
        if timeline is None:
            due = instant + micros
        else:
            view = timeline.current
            if view is None or not view.lo <= instant < view.hi or micros == 0:
                due = timeline.due(instant, micros)
            else:
                starts = view.starts
                i = bisect_right(starts, instant) - 1
                if i >= 0:
                    end = view.ends[i]
                    target = view.cum[i] + (end if instant > end else instant) - starts[i] + micros
                else:
                    target = micros
                if target > view.total:
                    due = timeline.due(instant, micros)  # needs more years: the general path
                else:
                    # Targets end within a few intervals: step, then bisect if still short.
                    cumend = view.cumend
                    j = i if i >= 0 else 0
                    if cumend[j] < target:
                        j += 1
                        if cumend[j] < target:
                            j = bisect_left(cumend, target, j + 1)
                    due = starts[j] + target - view.cum[j]
        seconds, micros = divmod(due, MICROS)
        result = datetime.fromtimestamp(seconds, UTC)
        return result.replace(microsecond=micros) if micros else result

    def due_epochs(self, starts: Int64Array, amount: int, unit: Unit) -> Int64Array:
        """`due` for many starts at once, as epoch microseconds (UTC) in and out."""
        timeline, micros = self.counted_amount(amount, unit)
        starts = np.asarray(starts, dtype=np.int64)
        if timeline is None:
            result: Int64Array = starts + micros
            return result
        return timeline.due_many(starts, micros)

    def elapsed(self, start: datetime, end: datetime, unit: Unit = "business_hours") -> timedelta:
        """The time counted by `unit` between two instants (negative if end is earlier)."""
        a, b = to_epoch_us(start, "start"), to_epoch_us(end, "end")
        timeline, _ = self.counted_amount(0, unit)
        if timeline is None:
            return timedelta(microseconds=b - a)
        return timedelta(microseconds=timeline.counted_between(a, b))

    def pause(self, due: datetime, at: datetime, unit: Unit) -> PausedClock:
        """Stop a running clock at `at`: it keeps the counted time left until `due`."""
        left = self.elapsed(at, due, unit)
        return PausedClock(remaining=max(left, timedelta(0)), unit=unit)

    def resume(self, clock: PausedClock, at: datetime) -> datetime:
        """Restart a paused clock at `at`; the new due instant (UTC)."""
        instant = to_epoch_us(at, "at")
        timeline, _ = self.counted_amount(0, clock.unit)
        micros = clock.remaining // timedelta(microseconds=1)
        if timeline is None:
            return from_epoch_us(instant + micros)
        return from_epoch_us(timeline.due(instant, micros))


def _nominal_day(week: Mapping[int, _Windows]) -> int:
    """The usual open length of a business weekday (the most common; ties take the longest)."""
    lengths = Counter(sum(end - start for start, end in windows) for windows in week.values())
    return max(lengths, key=lambda length: (lengths[length], length))


def to_epoch_us(value: datetime, name: str) -> int:
    """An aware datetime as exact UTC epoch microseconds (no float rounding).

    `Calendar.due` inlines this formula; keep the two the same.
    """
    try:
        delta = value - EPOCH
    except TypeError:
        if not isinstance(value, datetime):
            raise TypeError(f"{name}: expected a datetime, got {type(value).__name__}") from None
        raise NaiveDatetimeError(name) from None
    return (delta.days * DAY + delta.seconds) * MICROS + delta.microseconds


def from_epoch_us(value: int) -> datetime:
    """Epoch microseconds as an aware UTC datetime (`Calendar.due` inlines this too)."""
    seconds, micros = divmod(int(value), MICROS)
    instant = datetime.fromtimestamp(seconds, UTC)
    return instant.replace(microsecond=micros) if micros else instant
