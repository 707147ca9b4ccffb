"""Reads for the console and the Hub: a ticket's links with their history, the links of a
page of tickets at once, tickets by development stage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from supporthub.development.models import StageMove, TicketLink
from supporthub.development.stages import parse_stage
from supporthub.tickets.models import Ticket


def ticket_links(ticket: Ticket, *, include_unlinked: bool = True) -> list[TicketLink]:
    """The ticket's links, oldest first, each with its moves (two queries)."""
    links = TicketLink.objects.filter(ticket=ticket).select_related(
        "issue__connection", "unlinked_by"
    )
    if not include_unlinked:
        links = links.filter(unlinked_at__isnull=True)
    moves = Prefetch("moves", queryset=StageMove.objects.order_by("at", "pk"))
    return list(links.prefetch_related(moves).order_by("linked_at", "pk"))


def links_by_ticket(ticket_ids: Iterable[int]) -> dict[int, list[TicketLink]]:
    """The open links of many tickets in one query, by ticket id."""
    out: dict[int, list[TicketLink]] = defaultdict(list)
    links = TicketLink.objects.filter(
        ticket_id__in=list(ticket_ids), unlinked_at__isnull=True
    ).select_related("issue")
    for link in links.order_by("linked_at", "pk"):
        out[link.ticket_id].append(link)
    return dict(out)


def in_stage(tickets: QuerySet[Ticket], stage: str) -> QuerySet[Ticket]:
    """The tickets with an open link at `stage` ("any": any open link); unknown: unfiltered.
    A subquery, not a join: the queue's ordering and paging stay as they are."""
    links = TicketLink.objects.filter(unlinked_at__isnull=True)
    if stage != "any":
        if parse_stage(stage) is None:
            return tickets
        links = links.filter(stage=stage)
    return tickets.filter(pk__in=links.values("ticket_id"))
