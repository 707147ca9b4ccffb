"""Follow the sun (seed 000): a ticket goes to the support region on duty when it arrives,
and when none is, to the region that opens next."""

from __future__ import annotations

from datetime import datetime

from supporthub.policies import schema
from supporthub.sla import clocks
from supporthub.sla.calendars import closures_cached


def region_calendar(
    region: schema.Region, *, calendar_stamp: str | None = None
) -> clocks.CalendarKey:
    """A region's own hours, zone, national holidays and its country's company closures
    (`calendar_stamp`: see sla.calendars.closures_cached)."""
    closed = closures_cached(
        organisation=None, holiday_country=region.holiday_country, stamp=calendar_stamp
    )
    return clocks.CalendarKey(
        hours=region.hours,
        zone=region.hours.zone or "UTC",
        holiday_country=region.holiday_country,
        holiday_subdivision=region.holiday_subdivision,
        closures=closed,
    )


def region_for(
    policy: schema.Policy, at: datetime, *, calendar_stamp: str | None = None
) -> schema.Region | None:
    """The region on duty at `at`, else the next to open (the policy's order breaks ties);
    None when the policy names no regions."""
    best: tuple[datetime, int, schema.Region] | None = None
    for order, region in enumerate(policy.regions):
        calendar = region_calendar(region, calendar_stamp=calendar_stamp)
        opens = clocks.calendar(calendar).next_open(at)
        if best is None or (opens, order) < best[:2]:
            best = (opens, order, region)
    return best[2] if best is not None else None
