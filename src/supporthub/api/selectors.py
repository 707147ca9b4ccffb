"""Reads of the REST API: a page of tickets by cursor, with the list's filters."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet

from supporthub.access import Viewer
from supporthub.tickets.models import FirstResponseStatus, Ticket
from supporthub.tickets.selectors import tickets_visible_to

MAX_PAGE = 100


@dataclass(frozen=True)
class TicketFilters:
    status: tuple[str, ...] = ()
    severity: int | None = None
    organisation_id: int | None = None
    assignee_id: int | None = None
    type: str | None = None
    channel: str | None = None
    first_response_status: str | None = None
    breaching_before: datetime | None = None


@dataclass(frozen=True)
class Page:
    tickets: list[Ticket]
    next_cursor: str | None


def tickets_for_api(viewer: Viewer) -> QuerySet[Ticket]:
    """What a ticket's representation reads, in the one query (the policy text stays out)."""
    return (
        tickets_visible_to(viewer)
        .select_related("organisation", "requester", "assignee", "policy_version__policy")
        .defer("policy_version__source_text")
    )


def ticket_page(
    viewer: Viewer,
    *,
    filters: TicketFilters,
    cursor: str | None,
    limit: int,
    now: datetime,
) -> Page:
    """Newest received first (ties by id); one query whatever the page size."""
    tickets = _filtered(tickets_for_api(viewer), viewer, filters, now)
    if cursor:
        received_at, pk = decode_cursor(cursor)
        tickets = tickets.filter(
            Q(received_at__lt=received_at) | Q(received_at=received_at, pk__lt=pk)
        )
    rows = list(tickets.order_by("-received_at", "-pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1]) if more else None)


def _filtered(
    tickets: QuerySet[Ticket], viewer: Viewer, filters: TicketFilters, now: datetime
) -> QuerySet[Ticket]:
    if filters.organisation_id is not None:
        own = viewer.organisation
        if own is not None and own.pk != filters.organisation_id:
            raise PermissionDenied(
                f"organisation_id: this caller sees only {own.name}'s tickets "
                f"(organisation {own.pk})."
            )
        tickets = tickets.filter(organisation_id=filters.organisation_id)
    if filters.status:
        tickets = tickets.filter(status__in=filters.status)
    if filters.severity is not None:
        tickets = tickets.filter(severity=filters.severity)
    if filters.assignee_id is not None:
        tickets = tickets.filter(assignee_id=filters.assignee_id)
    if filters.type is not None:
        tickets = tickets.filter(type=filters.type)
    if filters.channel is not None:
        tickets = tickets.filter(channel=filters.channel)
    if filters.first_response_status is not None:
        tickets = tickets.filter(first_response_state_is(filters.first_response_status, now))
    if filters.breaching_before is not None:
        tickets = tickets.filter(
            first_response_at__isnull=True,
            first_response_due_at__isnull=False,
            first_response_due_at__lte=filters.breaching_before,
        )
    return tickets


def first_response_state_is(state: str, now: datetime) -> Q:
    """The state `sla.first_response_state` reports, as a filter: a running clock past due
    is breached although its stored status still says pending."""
    running = Q(first_response_at__isnull=True, first_response_due_at__isnull=False)
    if state == FirstResponseStatus.PENDING:
        return running & Q(first_response_due_at__gte=now)
    if state == FirstResponseStatus.BREACHED:
        return Q(first_response_status=FirstResponseStatus.BREACHED) | (
            running & Q(first_response_due_at__lt=now)
        )
    return Q(first_response_status=state)


# -- Cursors --------------------------------------------------------------------------------


def encode_cursor(ticket: Ticket) -> str:
    """Opaque to clients: base64 of the sort key (receipt instant, id) of the last row."""
    key = json.dumps([ticket.received_at.astimezone(UTC).isoformat(), ticket.pk])
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        received, pk = json.loads(raw)
        at = datetime.fromisoformat(received)
        if at.tzinfo is None or not isinstance(pk, int) or not 0 < pk < 2**63:
            raise ValueError(cursor)
        return at.astimezone(UTC), pk
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError):
        raise ValidationError(
            {"cursor": "Not a cursor this API gave out; pass next_cursor as it came."}
        ) from None
