"""Counted time as sorted UTC intervals with cumulative sums, built lazily a year at a time.

A `Timeline` knows the instants that count (open hours, or the hours of Business Days) as
half-open intervals of UTC epoch microseconds. Counted time up to an instant is one
bisection; the instant at which a given amount of counted time is reached is another.
Intervals are built per UTC year on first use and kept; the bulk path runs the same two
searches with numpy over whole arrays.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from supporthub.businesstime.errors import CalendarError

MICROS = 1_000_000
FIRST_YEAR = 1900
LAST_YEAR = 2999
# A calendar whose intervals stay empty this many years running has no open time to count.
EMPTY_YEARS_LIMIT = 12
_YEAR = 366 * 86_400 * MICROS

Int64Array = npt.NDArray[np.int64]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def year_start(year: int) -> int:
    """The first microsecond of a UTC year, as epoch microseconds."""
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp()) * MICROS


def year_of(epoch_us: int) -> int:
    return (EPOCH + timedelta(microseconds=epoch_us)).year


class _View:
    """An immutable snapshot of the built intervals; readers never see a half-built one."""

    __slots__ = (
        "first_year",
        "last_year",
        "lo",
        "hi",
        "starts",
        "ends",
        "cum",
        "cumend",
        "total",
        "_np",
    )

    def __init__(self, first_year: int, last_year: int, starts: list[int], ends: list[int]) -> None:
        self.first_year = first_year
        self.last_year = last_year
        self.lo = year_start(first_year)
        self.hi = year_start(last_year + 1)
        self.starts = starts
        self.ends = ends
        cum: list[int] = []
        cumend: list[int] = []
        total = 0
        for start, end in zip(starts, ends, strict=True):
            cum.append(total)
            total += end - start
            cumend.append(total)
        self.cum = cum
        self.cumend = cumend
        self.total = total
        self._np: tuple[Int64Array, Int64Array, Int64Array, Int64Array] | None = None

    def arrays(self) -> tuple[Int64Array, Int64Array, Int64Array, Int64Array]:
        if self._np is None:
            self._np = (
                np.array(self.starts, dtype=np.int64),
                np.array(self.ends, dtype=np.int64),
                np.array(self.cum, dtype=np.int64),
                np.array(self.cumend, dtype=np.int64),
            )
        return self._np

    def counted(self, at: int) -> int:
        """Counted microseconds from the start of the view up to `at` (inside the view)."""
        i = bisect_right(self.starts, at) - 1
        if i < 0:
            return 0
        return self.cum[i] + min(at, self.ends[i]) - self.starts[i]


class Timeline:
    """The counted instants of one calendar; `block(year)` gives a UTC year's intervals."""

    def __init__(self, block: Callable[[int], list[tuple[int, int]]], *, what: str) -> None:
        self._block = block
        self._what = what
        self._lock = threading.Lock()
        self._years: dict[int, list[tuple[int, int]]] = {}
        self._view: _View | None = None

    @property
    def current(self) -> _View | None:
        """The intervals built so far (None before the first query)."""
        return self._view

    # Building -------------------------------------------------------------------------

    def _rebuild(self) -> _View:
        first, last = min(self._years), max(self._years)
        starts: list[int] = []
        ends: list[int] = []
        for year in range(first, last + 1):
            for start, end in self._years[year]:
                if ends and ends[-1] == start:
                    ends[-1] = end  # adjacent intervals (across a block edge) are one
                else:
                    starts.append(start)
                    ends.append(end)
        self._view = _View(first, last, starts, ends)
        return self._view

    def _add_years(self, years: range) -> _View:
        with self._lock:
            for year in years:
                if year in self._years:
                    continue
                if not FIRST_YEAR <= year <= LAST_YEAR:
                    raise CalendarError(
                        f"{self._what}: year {year} is outside the supported years "
                        f"{FIRST_YEAR}-{LAST_YEAR}"
                    )
                self._years[year] = self._block(year)
            return self._rebuild()

    def view(self, lo: int, hi: int) -> _View:
        """A view covering [lo, hi) epoch microseconds, building missing years first."""
        current = self._view
        if current is not None and current.lo <= lo and hi <= current.hi:
            return current
        want_first, want_last = year_of(lo), year_of(hi - 1)
        if current is not None:
            want_first = min(want_first, current.first_year)
            want_last = max(want_last, current.last_year)
        return self._add_years(range(want_first, want_last + 1))

    def _extend_forward(self, view: _View, empty: int) -> tuple[_View, int]:
        """One more year at the end; counts the years running that added nothing."""
        before = view.total
        view = self._add_years(range(view.last_year + 1, view.last_year + 2))
        empty = empty + 1 if view.total == before else 0
        if empty >= EMPTY_YEARS_LIMIT:
            raise CalendarError(
                f"{self._what}: no open time in {EMPTY_YEARS_LIMIT} years "
                f"(up to {view.last_year}); the calendar has nothing to count"
            )
        return view, empty

    # Queries --------------------------------------------------------------------------

    def counted_between(self, start: int, end: int) -> int:
        """Counted microseconds in [start, end); negative when end is before start."""
        view = self.view(min(start, end), max(start, end) + 1)
        return view.counted(end) - view.counted(start)

    def is_counting(self, at: int) -> bool:
        view = self.view(at, at + 1)
        i = bisect_right(view.starts, at) - 1
        return i >= 0 and at < view.ends[i]

    def next_counting(self, at: int) -> int:
        """`at` if it counts, else the start of the next counted interval."""
        view = self.view(at, at + 1)
        empty = 0
        while True:
            i = bisect_right(view.starts, at) - 1
            if i >= 0 and at < view.ends[i]:
                return at
            if i + 1 < len(view.starts):
                return view.starts[i + 1]
            view, empty = self._extend_forward(view, empty)

    def intervals_after(self, at: int, limit: int) -> list[tuple[int, int]]:
        """The first `limit` counted intervals that end after `at` (the current one first,
        from its own start), as (start, end) epoch microseconds.

        Years are built one at a time, and an interval open across a year's end is whole only
        once both years are: a span that reaches the edge of the built years is read again
        after the next is built. One open for more than a year on end is cut at a year.
        """
        view = self.view(at, at + 1)
        i = bisect_right(view.ends, at)
        if i < len(view.starts) and view.starts[i] == view.lo and view.first_year > FIRST_YEAR:
            view = self.view(view.lo - 1, at + 1)  # it may have begun the year before
        empty = 0
        while True:
            i = bisect_right(view.ends, at)
            spans = list(zip(view.starts[i : i + limit], view.ends[i : i + limit], strict=True))
            if spans and spans[-1][1] == view.hi and view.hi - spans[-1][0] > _YEAR:
                return spans
            if len(spans) == limit and spans[-1][1] < view.hi:
                return spans
            view, empty = self._extend_forward(view, empty)

    def due(self, start: int, amount: int) -> int:
        """The earliest instant at or after `start` with `amount` microseconds counted."""
        if amount < 0:
            raise ValueError("amount: must not be negative")
        if amount == 0:
            return start
        view = self._view
        if view is None or not view.lo <= start < view.hi:
            view = self.view(start, start + 1)
        starts = view.starts
        i = bisect_right(starts, start) - 1
        target = (view.cum[i] + min(start, view.ends[i]) - starts[i] if i >= 0 else 0) + amount
        empty = 0
        # Recomputed after each extension: another thread may have prepended years.
        while view.total < target:
            view, empty = self._extend_forward(view, empty)
            target = view.counted(start) + amount
        j = bisect_left(view.cumend, target)
        return view.starts[j] + target - view.cum[j]

    def due_many(self, starts: Int64Array, amount: int) -> Int64Array:
        """`due` for every start at once (epoch microseconds in, epoch microseconds out)."""
        if amount < 0:
            raise ValueError("amount: must not be negative")
        starts = np.asarray(starts, dtype=np.int64)
        if amount == 0 or starts.size == 0:
            return starts.copy()
        first, last = int(starts.min()), int(starts.max())
        view = self.view(first, last + 1)
        empty = 0
        while view.total < view.counted(last) + amount:
            view, empty = self._extend_forward(view, empty)
        s, e, c, ce = view.arrays()
        i = np.maximum(np.searchsorted(s, starts, side="right") - 1, 0)
        targets = c[i] + np.clip(np.minimum(starts, e[i]) - s[i], 0, None) + amount
        j = np.searchsorted(ce, targets, side="left")
        result: Int64Array = s[j] + (targets - c[j])
        return result
