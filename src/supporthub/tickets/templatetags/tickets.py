"""Template helpers for ticket pages: bodies, times in a viewer's zone, live countdowns."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from supporthub.sla.clocks import iso
from supporthub.sla.selectors import first_response_state
from supporthub.tickets.models import Message, Ticket
from supporthub.tickets.rendering import local_time, render_body

register = template.Library()


@register.filter
def body(obj: Ticket | Message) -> SafeString:
    """A ticket's or message's body, sanitised for display."""
    return render_body(obj.body, obj.body_format)


@register.filter
def in_zone(value: datetime | None, zone: str) -> datetime | None:
    """An instant as wall time in `zone` (an IANA name)."""
    return local_time(value, zone)


_LOCAL_STYLES = {
    "full": ("%a %d %b %Y, %H:%M", True),
    "short": ("%a %d %b, %H:%M", True),  # dense tables: no year
    "bare": ("%d %b, %H:%M", False),  # a column whose heading states the zone
}


@register.simple_tag
def local(value: datetime | None, zone: str, style: str = "full") -> SafeString | str:
    """`<time>` with the instant in `zone`, its UTC value in the title and datetime.

    `style` is "full", "short" (no year) or "bare" (no weekday, year or zone name).
    """
    if value is None:
        return "—"
    shown = local_time(value, zone)
    assert shown is not None  # noqa: S101 - value is not None
    pattern, with_zone = _LOCAL_STYLES[style]
    return format_html(
        '<time datetime="{}" title="{} UTC">{}{}</time>',
        iso(value),
        value.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        shown.strftime(pattern),
        format_html(' <span class="muted">{}</span>', shown.tzname()) if with_zone else "",
    )


@register.simple_tag
def first_response(ticket: Ticket) -> SafeString:
    """The first-response clock: a live countdown while it runs, else met / breached."""
    state = first_response_state(ticket)
    if state == "pending" and ticket.first_response_due_at is not None:
        return format_html(
            '<span class="clock pending" data-state="pending">'
            '<time class="countdown" datetime="{}">due {}</time></span>',
            iso(ticket.first_response_due_at),
            iso(ticket.first_response_due_at),
        )
    labels = {
        "met": "Met",
        "breached": "Breached",
        "no_target": "No target",
        "pending": "Pending",
    }
    return format_html(
        '<span class="clock {}" data-state="{}">{}</span>', state, state, labels.get(state, state)
    )
