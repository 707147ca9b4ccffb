"""The worked examples of SPEC section 2 and the edges peers get wrong, as plain tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from supporthub.businesstime import (
    Calendar,
    CalendarError,
    HolidayPlace,
    ICalendarError,
    NaiveDatetimeError,
    closures_from_ical,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
CAIRO = ZoneInfo("Africa/Cairo")
KOLKATA = ZoneInfo("Asia/Kolkata")
US = HolidayPlace("US")


def base(zone: str = "America/New_York", **kwargs: object) -> Calendar:
    return Calendar.windows(zone, [("08:00", "18:00")], holidays=US, **kwargs)  # type: ignore[arg-type]


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


class TestSpecExamples:
    def test_ten_hours_opened_monday_0800_is_due_monday_1800_not_tuesday(self) -> None:
        monday = at(NY, 2025, 3, 3, 8)
        assert base().due(monday, 1, "business_days") == at(NY, 2025, 3, 3, 18)
        assert base().due(monday, 10, "business_hours") == at(NY, 2025, 3, 3, 18)

    def test_base_business_day_is_ten_hours(self) -> None:
        assert base().business_day_seconds == 10 * 3600

    def test_outside_hours_the_clock_waits_for_the_next_opening(self) -> None:
        saturday = at(NY, 2025, 3, 8, 11)
        assert base().due(saturday, 4, "business_hours") == at(NY, 2025, 3, 10, 12)

    def test_holiday_is_not_a_business_day(self) -> None:
        # 2025-07-04 is a Friday: 4 business hours from Thursday 16:00 end Monday 10:00.
        assert base().due(at(NY, 2025, 7, 3, 16), 4, "business_hours") == at(NY, 2025, 7, 7, 10)

    def test_observed_holiday_closes_the_observed_day(self) -> None:
        # Independence Day 2026 is a Saturday, observed on Friday 2026-07-03.
        assert not base().is_business_day(date(2026, 7, 3))
        assert base().is_business_day(date(2026, 7, 6))

    def test_premium_minutes_are_plain_elapsed_time_holidays_too(self) -> None:
        premium = Calendar.always("America/New_York", holidays=US)
        christmas = at(NY, 2025, 12, 25, 23, 50)
        assert premium.due(christmas, 30, "minutes") == at(NY, 2025, 12, 26, 0, 20)

    def test_premium_business_day_is_24_hours_on_business_days_only(self) -> None:
        premium = Calendar.always("Europe/Berlin", holidays=HolidayPlace("DE"))
        friday_noon = at(BERLIN, 2025, 3, 28, 12)
        assert premium.due(friday_noon, 1, "business_days") == at(BERLIN, 2025, 3, 31, 12)

    def test_a_day_with_a_daylight_saving_switch_counts_real_seconds(self) -> None:
        # Europe/Berlin springs forward on Sunday 2025-03-30; a 24x7 calendar with Sunday
        # as a business weekday has a 23-hour Sunday: 24 hours from Sunday 00:00 end Monday 01:00.
        every_day = Calendar.always("Europe/Berlin", weekdays=range(7))
        sunday = at(BERLIN, 2025, 3, 30, 0)
        assert every_day.due(sunday, 1, "business_days") == at(BERLIN, 2025, 3, 31, 1)
        assert every_day.due(sunday, 24, "hours") == at(BERLIN, 2025, 3, 31, 1)

    def test_a_window_starting_in_a_skipped_hour_starts_at_the_switch(self) -> None:
        # Cairo springs forward on Friday 2024-04-26 at 00:00 (to 01:00), a business weekday.
        calendar = Calendar.windows("Africa/Cairo", [("00:30", "08:00")])
        switch = datetime(2024, 4, 25, 22, 0, tzinfo=UTC)
        assert calendar.next_open(at(CAIRO, 2024, 4, 25, 20)) == switch
        assert calendar.due(at(CAIRO, 2024, 4, 25, 20), 1, "minutes") == switch + timedelta(
            minutes=1
        )

    def test_a_repeated_hour_counts_twice_inside_a_window(self) -> None:
        # New York falls back on Sunday 2025-11-02 at 02:00; 01:00-02:00 happens twice.
        calendar = Calendar.windows("America/New_York", [("00:00", "03:00")], weekdays=[6])
        sunday = at(NY, 2025, 11, 2, 0)
        assert calendar.due(sunday, 4, "hours") == at(NY, 2025, 11, 2, 3)

    def test_holiday_country_differs_from_the_customers_zone(self) -> None:
        # Support from the US for a customer in Kolkata: 4 July closes the Kolkata date.
        calendar = base("Asia/Kolkata")
        assert calendar.due(at(KOLKATA, 2025, 7, 3, 17), 2, "business_hours") == at(
            KOLKATA, 2025, 7, 7, 9
        )

    def test_year_end(self) -> None:
        # 31 Dec 17:00 + 2 business hours: one hour left in 2024, 1 Jan is a holiday.
        assert base().due(at(NY, 2024, 12, 31, 17), 2, "business_hours") == at(NY, 2025, 1, 2, 9)

    def test_due_exactly_at_closing_time(self) -> None:
        assert base().due(at(NY, 2025, 3, 3, 16), 2, "business_hours") == at(NY, 2025, 3, 3, 18)
        assert not base().is_open(at(NY, 2025, 3, 3, 18))

    def test_several_windows_a_day_and_24_00(self) -> None:
        split = Calendar.windows("UTC", [("08:00", "12:00"), ("13:00", "24:00")])
        assert split.business_day_seconds == 15 * 3600
        assert split.due(at(ZoneInfo("UTC"), 2025, 3, 3, 11), 2, "hours") == at(
            ZoneInfo("UTC"), 2025, 3, 3, 14
        )

    def test_custom_closure(self) -> None:
        calendar = base(closures=[date(2025, 3, 4)])
        assert calendar.due(at(NY, 2025, 3, 3, 17), 2, "business_hours") == at(NY, 2025, 3, 5, 9)


class TestElapsedAndPause:
    def test_elapsed_business_time(self) -> None:
        friday = at(NY, 2025, 3, 7, 17)
        monday = at(NY, 2025, 3, 10, 9)
        assert base().elapsed(friday, monday) == timedelta(hours=2)
        assert base().elapsed(monday, friday) == timedelta(hours=-2)

    def test_pause_keeps_remaining_and_resumes_from_it(self) -> None:
        calendar = base()
        due = calendar.due(at(NY, 2025, 3, 3, 8), 4, "business_hours")  # Monday 12:00
        clock = calendar.pause(due, at(NY, 2025, 3, 3, 10), "business_hours")
        assert clock.remaining == timedelta(hours=2)
        assert calendar.resume(clock, at(NY, 2025, 3, 5, 17)) == at(NY, 2025, 3, 6, 9)


class TestOpenings:
    def test_the_span_in_progress_then_the_next_business_days(self) -> None:
        # Wednesday 2 July 2025, 10:00 in New York; Friday 4 July is Independence Day.
        spans = base().openings(at(NY, 2025, 7, 2, 10), 3)
        assert spans == [
            (at(NY, 2025, 7, 2, 8), at(NY, 2025, 7, 2, 18)),
            (at(NY, 2025, 7, 3, 8), at(NY, 2025, 7, 3, 18)),
            (at(NY, 2025, 7, 7, 8), at(NY, 2025, 7, 7, 18)),
        ]
        assert all(start.tzinfo is UTC for start, _ in spans)

    def test_a_span_that_has_ended_is_not_shown(self) -> None:
        spans = base().openings(at(NY, 2025, 7, 2, 18), 1)
        assert spans == [(at(NY, 2025, 7, 3, 8), at(NY, 2025, 7, 3, 18))]

    def test_a_window_starting_in_the_skipped_hour_opens_at_the_switch(self) -> None:
        # Sunday 8 March 2026, New York: 02:00 EST becomes 03:00 EDT. A 02:30 window opens at
        # the switch (07:00 UTC), as is_open says, not at 03:30 EDT.
        every_day = Calendar.windows("America/New_York", [("02:30", "05:00")], weekdays=range(7))
        spans = every_day.openings(datetime(2026, 3, 8, 0, 0, tzinfo=UTC), 1)
        assert spans == [(datetime(2026, 3, 8, 7, 0, tzinfo=UTC), at(NY, 2026, 3, 8, 5))]
        assert every_day.is_open(datetime(2026, 3, 8, 7, 10, tzinfo=UTC))

    def test_a_repeated_hour_is_open_on_both_passes(self) -> None:
        # Sunday 1 November 2026, New York: 01:00-02:00 is lived twice (EDT, then EST).
        every_day = Calendar.windows("America/New_York", [("01:00", "01:30")], weekdays=range(7))
        spans = every_day.openings(datetime(2026, 11, 1, 0, 0, tzinfo=UTC), 2)
        assert spans == [
            (datetime(2026, 11, 1, 5, 0, tzinfo=UTC), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
            (datetime(2026, 11, 1, 6, 0, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
        ]

    def test_windows_that_meet_at_midnight_are_one_span(self) -> None:
        nights = Calendar(
            "Europe/Berlin",
            week={0: [("18:00", "24:00")], 1: [("00:00", "06:00")]},
            weekdays=(0, 1),
        )
        spans = nights.openings(at(BERLIN, 2025, 3, 3, 12), 1)
        assert spans == [(at(BERLIN, 2025, 3, 3, 18), at(BERLIN, 2025, 3, 4, 6))]

    def test_the_list_goes_on_into_the_next_year(self) -> None:
        spans = base().openings(at(NY, 2025, 12, 31, 19), 2)
        # New Year's Day is a holiday: Friday 2 January, then Monday 5 January.
        assert spans == [
            (at(NY, 2026, 1, 2, 8), at(NY, 2026, 1, 2, 18)),
            (at(NY, 2026, 1, 5, 8), at(NY, 2026, 1, 5, 18)),
        ]

    @pytest.mark.parametrize(
        "now",
        [datetime(2025, 12, 31, 18, 0, tzinfo=UTC), datetime(2026, 1, 1, 1, 0, tzinfo=UTC)],
    )
    def test_a_span_open_across_the_turn_of_the_utc_year_is_whole(self, now: datetime) -> None:
        # 09:00-18:00 in Los Angeles is 17:00-02:00 UTC: Wednesday 31 December's crosses into
        # 2026, a year built after 2025 (each calendar new: nothing built before the call).
        line = Calendar.windows("America/Los_Angeles", [("09:00", "18:00")])
        la = ZoneInfo("America/Los_Angeles")
        assert line.openings(now, 2) == [
            (at(la, 2025, 12, 31, 9), at(la, 2025, 12, 31, 18)),
            (at(la, 2026, 1, 1, 9), at(la, 2026, 1, 1, 18)),
        ]
        fresh = Calendar.windows("America/Los_Angeles", [("09:00", "18:00")])
        assert fresh.openings(now, 1) == [(at(la, 2025, 12, 31, 9), at(la, 2025, 12, 31, 18))]

    def test_a_calendar_open_around_the_clock_has_no_openings(self) -> None:
        with pytest.raises(ValueError, match="always open"):
            Calendar.always("UTC").openings(datetime(2025, 1, 1, tzinfo=UTC), 1)


class TestRefusals:
    def test_naive_datetimes_are_refused(self) -> None:
        with pytest.raises(NaiveDatetimeError, match="start is a naive datetime"):
            base().due(datetime(2025, 3, 3, 8), 1, "business_days")  # noqa: DTZ001

    def test_unknown_zone(self) -> None:
        with pytest.raises(CalendarError, match="'Mars/Olympus' is not an IANA time zone"):
            Calendar.always("Mars/Olympus")

    def test_unknown_holiday_country(self) -> None:
        with pytest.raises(CalendarError, match="'XX'"):
            HolidayPlace("XX")
        with pytest.raises(CalendarError, match="'US-ZZ'"):
            HolidayPlace("US", "ZZ")

    @pytest.mark.parametrize(
        ("windows", "message"),
        [
            ([("18:00", "08:00")], "Monday 18:00-08:00: the end must be after the start"),
            ([("8am", "18:00")], '"8am" is not a time of day'),
            ([("24:00", "24:00")], '"24:00" is not a time of day'),
            ([("08:00", "12:00"), ("11:00", "13:00")], "Monday: windows overlap"),
            ([], "no window on any business weekday"),
        ],
    )
    def test_bad_windows_name_what_is_wrong(
        self, windows: list[tuple[str, str]], message: str
    ) -> None:
        with pytest.raises(CalendarError, match=message):
            Calendar.windows("UTC", windows)

    def test_a_calendar_with_no_open_time_is_an_error_not_a_hang(self) -> None:
        saturdays = [date(2025, 1, 4) + timedelta(weeks=n) for n in range(52 * 30)]
        calendar = Calendar.windows("UTC", [("08:00", "18:00")], weekdays=[5], closures=saturdays)
        with pytest.raises(CalendarError, match="no open time in 12 years"):
            calendar.due(at(ZoneInfo("UTC"), 2025, 1, 1), 1, "hours")

    def test_negative_amount(self) -> None:
        with pytest.raises(CalendarError, match="amount: -1 is negative"):
            base().due(at(NY, 2025, 3, 3), -1, "hours")

    def test_far_future_is_refused_not_looped(self) -> None:
        with pytest.raises(CalendarError, match="outside the supported years"):
            base().due(at(NY, 2999, 12, 31, 17), 2, "business_days")


ICAL = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Support Hub//test//EN
BEGIN:VEVENT
UID:1
SUMMARY:Company day
DTSTART;VALUE=DATE:20250310
DTEND;VALUE=DATE:20250312
END:VEVENT
BEGIN:VEVENT
UID:2
SUMMARY:Christmas Eve
DTSTART;VALUE=DATE:20241224
RRULE:FREQ=YEARLY
EXDATE;VALUE=DATE:20251224
END:VEVENT
BEGIN:VEVENT
UID:3
SUMMARY:Offsite
DTSTART:20250320T090000Z
DTEND:20250320T170000Z
END:VEVENT
END:VCALENDAR
"""


class TestICalendar:
    def test_all_day_recurring_and_timed_events(self) -> None:
        closed = closures_from_ical(ICAL, start=date(2024, 1, 1), end=date(2026, 12, 31))
        assert closed == {
            date(2025, 3, 10): "Company day",
            date(2025, 3, 11): "Company day",
            date(2024, 12, 24): "Christmas Eve",
            date(2026, 12, 24): "Christmas Eve",
            date(2025, 3, 20): "Offsite",
        }

    def test_closures_feed_a_calendar(self) -> None:
        closed = closures_from_ical(ICAL, start=date(2025, 1, 1), end=date(2025, 12, 31))
        calendar = base(closures=closed)
        assert calendar.due(at(NY, 2025, 3, 7, 17), 2, "business_hours") == at(NY, 2025, 3, 12, 9)

    def test_broken_file(self) -> None:
        with pytest.raises(ICalendarError, match="cannot parse"):
            closures_from_ical(b"not a calendar", start=date(2025, 1, 1), end=date(2025, 12, 31))

    def test_event_without_start(self) -> None:
        text = ICAL.replace(b"DTSTART:20250320T090000Z\n", b"")
        with pytest.raises(ICalendarError, match=r"event 3 \(Offsite\): DTSTART is missing"):
            closures_from_ical(text, start=date(2025, 1, 1), end=date(2025, 12, 31))


def test_the_engine_imports_no_django() -> None:
    import subprocess
    import sys

    code = (
        "import sys, supporthub.businesstime; "
        "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False)  # noqa: S603
    assert done.returncode == 0
