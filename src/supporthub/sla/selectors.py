"""Reads on clocks."""

from __future__ import annotations

from django.db.models import QuerySet

from supporthub.tickets.models import OPEN_STATUSES, Ticket


def running_clocks() -> QuerySet[Ticket]:
    """Open tickets whose first-response clock runs (a target, no first response yet).

    These are the rows of the `ticket_running_clock_due` partial index.
    """
    return Ticket.objects.filter(
        status__in=[str(s) for s in OPEN_STATUSES],
        first_response_at__isnull=True,
        first_response_due_at__isnull=False,
    )
