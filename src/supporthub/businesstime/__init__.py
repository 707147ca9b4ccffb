"""Business time: calendars, due instants and counted time. Pure Python; imports no Django.

>>> from datetime import datetime
>>> from zoneinfo import ZoneInfo
>>> base = Calendar.windows("America/New_York", [("08:00", "18:00")],
...                         holidays=HolidayPlace("US"))
>>> base.due(datetime(2025, 3, 3, 8, tzinfo=ZoneInfo("America/New_York")), 1, "business_days")
datetime.datetime(2025, 3, 3, 23, 0, tzinfo=datetime.timezone.utc)
"""

from supporthub.businesstime.calendar import (
    MON_FRI,
    UNITS,
    Calendar,
    PausedClock,
    Unit,
    from_epoch_us,
    to_epoch_us,
)
from supporthub.businesstime.closed import HolidayPlace, closures_from_ical
from supporthub.businesstime.errors import (
    BusinessTimeError,
    CalendarError,
    ICalendarError,
    NaiveDatetimeError,
)

__all__ = [
    "MON_FRI",
    "UNITS",
    "BusinessTimeError",
    "Calendar",
    "CalendarError",
    "HolidayPlace",
    "ICalendarError",
    "NaiveDatetimeError",
    "PausedClock",
    "Unit",
    "closures_from_ical",
    "from_epoch_us",
    "to_epoch_us",
]
