"""Available Hours and the routing decision against businesstime's minute-stepping oracle,
across zones whose daylight-saving switches fall on different dates (and at midnight), with
holiday places that are not the zone's own country, and random days off."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supporthub.businesstime import Calendar
from supporthub.businesstime.tests.oracle import MINUTE, OracleCalendar
from supporthub.dse.availability import EngineerPlace, available_calendar, decide
from supporthub.policies import schema

ZONES = [
    "America/Los_Angeles",  # US switch: 8 March and 1 November 2026
    "Europe/Berlin",  # EU switch: 29 March and 25 October 2026
    "Australia/Sydney",  # southern: 5 April and 4 October 2026
    "America/Santiago",  # switches at midnight: 5 April and 6 September 2026
    "Africa/Cairo",  # switches at midnight on a Friday
    "America/St_Johns",  # -03:30 with daylight saving
    "Asia/Kolkata",  # +05:30, none
]
# Holiday places chosen apart from the zones: an engineer may live in one place's zone and
# keep another's holidays (and the customer's place never enters).
PLACES = [("US", "CA"), ("DE", "BY"), ("AU", "NSW"), ("CL", None), ("IN", None), ("GB", "ENG")]
SWITCHES = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 3),  # Good Friday in several places
    date(2026, 4, 5),
    date(2026, 9, 6),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
    date(2026, 12, 25),
]
POLICY_HOURS = schema.Hours(
    always=False, windows=(schema.Window("09:00", "17:00"),), zone_of="engineer"
)
COMMON = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def hours(draw: st.DrawFn) -> schema.Hours:
    """The policy's 09:00-17:00, or a window with an edge in the hours daylight saving skips."""
    if draw(st.booleans()):
        return POLICY_HOURS
    start = draw(st.sampled_from(["00:00", "00:30", "01:00", "02:00", "02:30", "03:00", "09:00"]))
    end = draw(st.sampled_from(["01:30", "02:30", "03:30", "17:00", "24:00"]))
    if end <= start:
        end = "24:00"
    return schema.Hours(always=False, windows=(schema.Window(start, end),), zone_of="engineer")


@st.composite
def cases(
    draw: st.DrawFn,
) -> tuple[str, tuple[str, str | None], schema.Hours, datetime, frozenset[date]]:
    zone = draw(st.sampled_from(ZONES))
    place = draw(st.sampled_from(PLACES))
    around = draw(st.sampled_from(SWITCHES))
    minute = draw(st.integers(-3 * 24 * 60, 3 * 24 * 60))
    at = datetime(around.year, around.month, around.day, tzinfo=UTC) + timedelta(minutes=minute)
    days_off = frozenset(
        around + timedelta(days=d) for d in draw(st.sets(st.integers(-3, 6), max_size=4))
    )
    return zone, place, draw(hours()), at, days_off


Case = tuple[str, tuple[str, str | None], schema.Hours, datetime, frozenset[date]]


def _both(case: Case) -> tuple[Calendar, OracleCalendar, datetime]:
    """The Available Hours under test and the oracle's reading of the same definitions."""
    zone, (country, subdivision), hours_, at, days_off = case
    calendar = available_calendar(hours_, EngineerPlace(zone, country, subdivision), days_off)
    oracle = OracleCalendar(
        zone=zone,
        week={d: [(w.start, w.end) for w in hours_.windows] for d in range(5)},
        country=country,
        subdivision=subdivision,
        closures=days_off,
    )
    return calendar, oracle, at


def _oracle_next_open(oracle: OracleCalendar, at: datetime) -> datetime:
    instant = at
    for _ in range(40 * 24 * 60):
        if oracle.counts(instant, "business_hours"):
            return instant
        instant += MINUTE
    raise AssertionError("oracle: never open within 40 days")


@COMMON
@given(cases(), st.integers(0, 40), st.integers(1, 40))
def test_the_decision_matches_the_oracle(
    case: tuple[str, tuple[str, str | None], schema.Hours, datetime, frozenset[date]],
    logged: int,
    limit: int,
) -> None:
    calendar, oracle, at = _both(case)
    decision = decide(
        calendar=calendar,
        at=at,
        monthly_limit_hours=Decimal(limit),
        hours_logged_this_month=Decimal(logged),
    )
    if logged >= limit:
        assert (decision.to_dse, decision.reason, decision.next_available_at) == (
            False,
            "monthly_limit_reached",
            None,
        )
    elif oracle.counts(at, "business_hours"):
        assert (decision.to_dse, decision.reason, decision.next_available_at) == (
            True,
            "available",
            None,
        )
    else:
        assert (decision.to_dse, decision.reason) == (False, "outside_available_hours")
        assert decision.next_available_at == _oracle_next_open(oracle, at)


@COMMON
@given(cases())
def test_every_minute_of_a_day_agrees_with_the_oracle(
    case: tuple[str, tuple[str, str | None], schema.Hours, datetime, frozenset[date]],
) -> None:
    calendar, oracle, at = _both(case)
    start = at.replace(hour=0, minute=0)
    for step in range(0, 26 * 60, 7):
        instant = start + timedelta(minutes=step)
        assert calendar.is_open(instant) == oracle.counts(instant, "business_hours"), instant
