"""Development links on the console's pages and the Hub's ticket page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template

from supporthub.development import selectors
from supporthub.development.forms import LinkForm, UnlinkForm
from supporthub.development.models import TicketLink
from supporthub.development.stages import CHOICES
from supporthub.tickets.models import Ticket

register = template.Library()


@register.inclusion_tag("development/_console_panel.html", takes_context=True)
def development_panel(context: template.Context, ticket: Ticket) -> dict[str, Any]:
    """The console ticket page's box: links, their stage and history, link and unlink."""
    return {
        "ticket": ticket,
        "links": selectors.ticket_links(ticket),
        "link_form": LinkForm(auto_id="development_%s"),
        "unlink_form": UnlinkForm(auto_id=False),
        "csrf_token": context.get("csrf_token"),
        "zone": context.get("zone") or "UTC",
    }


@register.inclusion_tag("development/_hub_progress.html")
def development_progress(ticket: Ticket, zone: str) -> dict[str, Any]:
    """The Hub's box: each development ticket's number, stage and history."""
    return {"links": selectors.ticket_links(ticket, include_unlinked=False), "zone": zone}


@register.simple_tag
def development_links_for(tickets: Iterable[Ticket]) -> dict[int, list[TicketLink]]:
    """`{% development_links_for tickets as links %}`: a page's links in one query."""
    return selectors.links_by_ticket(t.pk for t in tickets)


@register.filter
def links_of(links: dict[int, list[TicketLink]], ticket: Ticket) -> list[TicketLink]:
    return links.get(ticket.pk, [])


@register.simple_tag
def development_stages() -> list[tuple[str, str]]:
    return CHOICES
