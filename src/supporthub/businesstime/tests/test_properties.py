"""Property tests: the engine against the minute-stepping oracle, across zones and holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supporthub.businesstime import Calendar, HolidayPlace, to_epoch_us
from supporthub.businesstime.calendar import zone_segments
from supporthub.businesstime.tests.oracle import OracleCalendar

ZONES = [
    "Africa/Cairo",  # the daylight-saving switch falls on a weekday (Friday), at midnight
    "America/Santiago",  # switches at midnight, southern hemisphere
    "Australia/Sydney",
    "Pacific/Auckland",
    "Asia/Kolkata",  # +05:30, no daylight saving
    "Asia/Kathmandu",  # +05:45
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "America/St_Johns",  # -03:30 with daylight saving
    "Australia/Lord_Howe",  # a half-hour daylight-saving switch
    "UTC",
]
PLACES = [
    None,
    ("US", None),
    ("FR", None),
    ("DE", "BY"),
    ("IN", None),
    ("AU", "NSW"),
    ("NZ", None),
    ("CL", None),
    ("EG", None),
    ("GB", "ENG"),
]

COMMON = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def minutes_of(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def day_windows(draw: st.DrawFn) -> list[tuple[str, str]]:
    """One or two windows on quarter hours, biased to the hours daylight saving touches."""
    edges = st.one_of(
        st.sampled_from([0, 30, 60, 90, 120, 150, 180, 1380, 1410, 1440]),
        st.integers(0, 96).map(lambda q: q * 15),
    )
    points = sorted(set(draw(st.lists(edges, min_size=2, max_size=4))))
    if len(points) < 2:
        points = [0, 1440] if points == [1440] or not points else [points[0], 1440]
    if points[0] == points[-1]:
        points = [0, 1440]
    pairs = [(points[i], points[i + 1]) for i in range(0, len(points) - 1, 2)]
    return [(hhmm(a), hhmm(b)) for a, b in pairs if a < b]


@st.composite
def starts(draw: st.DrawFn, zone: str) -> datetime:
    """Any minute of 2023-2027, or one within a day of one of the zone's offset changes."""
    if draw(st.booleans()):
        year = draw(st.integers(2023, 2027))
        switches = [seg[0] for seg in zone_segments(zone, year)[1:]]
        if switches:
            anchor = draw(st.sampled_from(switches))
            return datetime.fromtimestamp(anchor, UTC) + timedelta(
                minutes=draw(st.integers(-36 * 60, 12 * 60))
            )
    lo = datetime(2023, 1, 1, tzinfo=UTC)
    return lo + timedelta(minutes=draw(st.integers(0, 5 * 365 * 24 * 60)))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Calendar, OracleCalendar, datetime]:
    zone = draw(st.sampled_from(ZONES))
    place = draw(st.sampled_from(PLACES))
    always = draw(st.integers(0, 3)) == 0
    windows = None if always else draw(day_windows())
    holidays = HolidayPlace(*place) if place else None
    if windows is None:
        calendar = Calendar.always(zone, holidays=holidays)
    else:
        calendar = Calendar.windows(zone, windows, holidays=holidays)
    oracle = OracleCalendar(
        zone,
        None if windows is None else dict.fromkeys(range(5), windows),
        country=place[0] if place else None,
        subdivision=place[1] if place else None,
    )
    return calendar, oracle, draw(starts(zone))


@COMMON
@given(case=cases(), minutes=st.integers(1, 900))
def test_business_hours_due_matches_the_oracle(
    case: tuple[Calendar, OracleCalendar, datetime], minutes: int
) -> None:
    calendar, oracle, start = case
    assert calendar.due(start, minutes, "minutes") == oracle.due(start, minutes, "business_hours")


@COMMON
@given(case=cases(), days=st.integers(1, 2))
def test_business_days_due_matches_the_oracle(
    case: tuple[Calendar, OracleCalendar, datetime], days: int
) -> None:
    calendar, oracle, start = case
    if oracle.week is None:
        nominal = 24 * 60
    else:
        nominal = sum(minutes_of(e) - minutes_of(s) for s, e in oracle.week[0])
    expected = oracle.due(start, days * nominal, "business_days")
    assert calendar.due(start, days, "business_days") == expected


@COMMON
@given(case=cases(), span=st.integers(0, 6 * 24 * 60))
def test_elapsed_matches_the_oracle(
    case: tuple[Calendar, OracleCalendar, datetime], span: int
) -> None:
    calendar, oracle, start = case
    end = start + timedelta(minutes=span)
    for unit in ("business_hours", "business_days"):
        counted = calendar.elapsed(start, end, unit)
        assert counted == timedelta(minutes=oracle.elapsed_minutes(start, end, unit))


@COMMON
@given(case=cases(), minutes=st.integers(1, 3000), data=st.data())
def test_due_is_earliest_and_consistent_with_elapsed(
    case: tuple[Calendar, OracleCalendar, datetime], minutes: int, data: st.DataObject
) -> None:
    calendar, _, start = case
    start = start + timedelta(microseconds=data.draw(st.integers(0, 59_999_999)))
    due = calendar.due(start, minutes, "minutes")
    assert due >= start
    assert calendar.elapsed(start, due, "minutes") == timedelta(minutes=minutes)
    # Earliest: one microsecond less has not yet counted the whole target.
    assert calendar.elapsed(start, due - timedelta(microseconds=1), "minutes") < timedelta(
        minutes=minutes
    )
    assert calendar.is_open(due - timedelta(microseconds=1))


@COMMON
@given(
    case=cases(),
    amount=st.integers(1, 3),
    unit=st.sampled_from(["hours", "business_days"]),
    pause_after=st.integers(0, 10_000),
    pause_for=st.integers(0, 20_000),
)
def test_a_paused_clock_keeps_its_remaining_time(
    case: tuple[Calendar, OracleCalendar, datetime],
    amount: int,
    unit: str,
    pause_after: int,
    pause_for: int,
) -> None:
    calendar, _, start = case
    due = calendar.due(start, amount, unit)  # type: ignore[arg-type]
    paused_at = start + timedelta(minutes=pause_after)
    clock = calendar.pause(due, paused_at, unit)  # type: ignore[arg-type]
    resumed_at = paused_at + timedelta(minutes=pause_for)
    new_due = calendar.resume(clock, resumed_at)
    assert new_due >= resumed_at
    assert calendar.elapsed(resumed_at, new_due, unit) == clock.remaining  # type: ignore[arg-type]
    if paused_at <= due:
        before = calendar.elapsed(start, paused_at, unit)  # type: ignore[arg-type]
        assert before + clock.remaining == calendar.elapsed(start, due, unit)  # type: ignore[arg-type]


@COMMON
@given(
    case=cases(),
    amount=st.integers(0, 50),
    unit=st.sampled_from(["minutes", "hours", "business_hours", "business_days"]),
    data=st.data(),
)
def test_the_bulk_path_equals_one_call_at_a_time(
    case: tuple[Calendar, OracleCalendar, datetime], amount: int, unit: str, data: st.DataObject
) -> None:
    calendar, _, start = case
    offsets = data.draw(st.lists(st.integers(-(10**13), 10**13), min_size=1, max_size=30))
    epochs = np.array([to_epoch_us(start, "start") + o for o in offsets], dtype=np.int64)
    bulk = calendar.due_epochs(epochs, amount, unit)  # type: ignore[arg-type]
    one_by_one = [
        to_epoch_us(
            calendar.due(
                datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(e)),
                amount,
                unit,  # type: ignore[arg-type]
            ),
            "due",
        )
        for e in epochs
    ]
    assert bulk.tolist() == one_by_one


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_openings_are_the_oracles_open_spans(
    case: tuple[Calendar, OracleCalendar, datetime],
) -> None:
    """Every minute from the first span's start (or `start`) to the second span's end is
    open exactly when it falls in a span: nothing open is left out, nothing closed shown."""
    calendar, oracle, start = case
    if oracle.week is None:
        with pytest.raises(ValueError, match="always open"):
            calendar.openings(start, 2)
        return
    spans = calendar.openings(start, 2)
    assert len(spans) == 2
    (first_start, first_end), (second_start, second_end) = spans
    assert first_start < first_end < second_start < second_end
    assert first_end > start
    minute = timedelta(minutes=1)
    assert not oracle.counts(first_start - minute, "business_hours")
    instant = min(first_start, start)
    while instant < second_end:
        inside = first_start <= instant < first_end or second_start <= instant < second_end
        assert oracle.counts(instant, "business_hours") == inside, instant
        instant += minute
    assert not oracle.counts(second_end, "business_hours")
