"""The errors of the business-time engine; each names what is wrong."""

from __future__ import annotations


class BusinessTimeError(ValueError):
    """Base class: a calendar or a query the engine refuses."""


class CalendarError(BusinessTimeError):
    """A calendar that cannot be built or has no open time to count."""


class NaiveDatetimeError(BusinessTimeError):
    """A datetime without a time zone: the engine never guesses one."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} is a naive datetime; pass a timezone-aware one "
            "(for example datetime(..., tzinfo=ZoneInfo('Europe/Paris')))"
        )


class ICalendarError(BusinessTimeError):
    """An iCalendar file that cannot be read as closures."""
