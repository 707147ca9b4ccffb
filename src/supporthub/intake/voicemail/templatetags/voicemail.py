"""`{% phone_support %}`: the phone line and its hours from the viewer's policy, for the Hub."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import template
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.intake.voicemail.selectors import Opening, phone_support

register = template.Library()


@register.inclusion_tag("intake_voicemail/_phone_support.html", takes_context=True)
def phone_support_panel(context: template.Context) -> dict[str, Any]:
    viewer: Viewer | None = context.get("viewer")
    if viewer is None or viewer.organisation is None:
        return {"phone": None}
    organisation = viewer.organisation
    phone = phone_support(organisation=organisation, now=timezone.now())
    zone: str = viewer.time_zone
    rows = []
    if phone is not None and phone.zone:
        rows = [
            {"yours": _span(o, zone), "line": _span(o, phone.zone), "opening": o}
            for o in phone.openings
        ]
    return {"phone": phone, "viewer_zone": zone, "rows": rows}


def _span(opening: Opening, zone: str) -> str:
    """ "Mon 30 Nov, 12:00–20:00 EST" in `zone` (both ends' dates when they differ)."""
    start = opening.starts_at.astimezone(ZoneInfo(zone))
    end = opening.ends_at.astimezone(ZoneInfo(zone))
    tail = _clock(end) if end.date() == start.date() else f"{end:%a %d %b}, {_clock(end)}"
    return f"{start:%a %d %b}, {_clock(start)}–{tail} {end.tzname()}"


def _clock(at: datetime) -> str:
    return f"{at:%H:%M}"
