"""The iCalendar feed of a rotation, for calendar apps to subscribe to."""

from __future__ import annotations

from datetime import datetime, timedelta

import icalendar
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from supporthub.routing.models import Rotation
from supporthub.routing.oncall import schedule
from supporthub.routing.selectors import rotations, turns_of

# What a subscription shows: a little history and a quarter ahead.
FEED_PAST = timedelta(weeks=4)
FEED_AHEAD = timedelta(weeks=13)


def rotation_calendar(rotation: Rotation, *, now: datetime) -> bytes:
    """Every shift from four weeks ago to thirteen weeks ahead, one event each."""
    turns, overrides = turns_of(rotation)
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Support Hub//on-call rotation//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"On call: {rotation.name}")
    calendar.add("x-wr-timezone", rotation.time_zone)
    for shift in schedule(turns, overrides, now - FEED_PAST, now + FEED_AHEAD):
        event = icalendar.Event()
        stamp = int(shift.starts_at.timestamp())
        # Stable per shift start: a refreshed feed updates events instead of duplicating them.
        event.add("uid", f"rotation-{rotation.pk}-{stamp}@supporthub")
        event.add("dtstamp", now)
        event.add("dtstart", shift.starts_at)
        event.add("dtend", shift.ends_at)
        kind = f" (override: {shift.reason})" if shift.override and shift.reason else ""
        if shift.override and not shift.reason:
            kind = " (override)"
        event.add("summary", f"On call: {shift.person}{kind}")
        event.add("description", f"{rotation.name} on-call rotation")
        calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical


def rotation_feed(request: HttpRequest, token: str) -> HttpResponse:
    """No login (calendar apps cannot): the unguessable token in the address is the key."""
    rotation = rotations().filter(feed_token=token).first()
    if rotation is None:
        raise Http404("No such calendar.")
    response = HttpResponse(
        rotation_calendar(rotation, now=timezone.now()), content_type="text/calendar"
    )
    response["Content-Disposition"] = f'inline; filename="on-call-{rotation.pk}.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
