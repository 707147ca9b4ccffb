"""Reads on clocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from supporthub import rows
from supporthub.sla.models import CalendarStamp
from supporthub.tickets.models import OPEN_STATUSES, FirstResponseStatus, Ticket


def warnings_due(*, now: datetime) -> QuerySet[Ticket]:
    """Running clocks whose next breach warning is due, earliest first: the breach scan.

    The filter is the `ticket_sla_warning_due` partial index's condition plus a range on its
    column, so the scan reads only the index entries that are due.
    """
    return Ticket.objects.filter(
        status__in=[s.value for s in OPEN_STATUSES],
        first_response_at__isnull=True,
        sla_next_warning_at__isnull=False,
        sla_next_warning_at__lte=now,
    ).order_by("sla_next_warning_at")


def first_response_state(ticket: Ticket, *, now: datetime | None = None) -> str:
    """pending, met, breached or no_target as of now (a running clock past due is breached)."""
    if ticket.first_response_at is not None or ticket.first_response_due_at is None:
        return ticket.first_response_status
    now = now or timezone.now()
    return FirstResponseStatus.BREACHED if now > ticket.first_response_due_at else "pending"


# -- SLA attainment (SPEC section 7: by organisation, level, severity and month) --------------

ATTAINMENT_DIMENSIONS = {
    "organisation": ("organisation__name", "Organisation"),
    "support_level": ("support_level", "Support level"),
    "severity": ("severity", "Severity"),
    "month": ("month", "Month received (UTC)"),
}


@dataclass(frozen=True)
class AttainmentRow:
    """First responses of one group: met, breached (answered late or still unanswered past
    due), pending (still in time), and those the policy sets no target for."""

    key: Any
    met: int
    breached: int
    pending: int
    no_target: int

    @property
    def measured(self) -> int:
        return self.met + self.breached

    @property
    def attainment(self) -> float | None:
        """Met as a share of the decided clocks; None when none is decided yet."""
        return self.met / self.measured if self.measured else None


def attainment(
    tickets: QuerySet[Ticket], *, by: str, now: datetime | None = None
) -> list[AttainmentRow]:
    """One row per value of `by` (a key of ATTAINMENT_DIMENSIONS), in one query."""
    now = now or timezone.now()
    column, _ = ATTAINMENT_DIMENSIONS[by]
    running = Q(first_response_at__isnull=True, first_response_due_at__isnull=False)
    rows = (
        tickets.annotate(month=TruncMonth("received_at", tzinfo=UTC))
        .values(column)
        .annotate(
            met=Count("pk", filter=Q(first_response_status=FirstResponseStatus.MET)),
            breached=Count(
                "pk",
                filter=Q(first_response_status=FirstResponseStatus.BREACHED)
                | (running & Q(first_response_due_at__lt=now)),
            ),
            pending=Count("pk", filter=running & Q(first_response_due_at__gte=now)),
            no_target=Count("pk", filter=Q(first_response_status=FirstResponseStatus.NO_TARGET)),
        )
        .order_by(column)
    )
    return [
        AttainmentRow(
            key=row[column],
            met=row["met"],
            breached=row["breached"],
            pending=row["pending"],
            no_target=row["no_target"],
        )
        for row in rows
    ]


def calendar_stamp_sql() -> str:
    """For another app's hand-written read (see supporthub.rows): the closures' CalendarStamp
    token as a scalar subquery, read in the caller's statement (ticket creation reads closures
    again only when it changed)."""
    token, key = rows.column(CalendarStamp, "token"), rows.column(CalendarStamp, "id")
    return f'(SELECT "{token}" FROM {rows.table(CalendarStamp)} WHERE "{key}" = 1)'  # noqa: S608
