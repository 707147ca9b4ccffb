"""Reads on tickets, always through a viewer: nobody gets a row they may not see.

Child objects (messages, attachments, audit entries) are only ever looked up through a
ticket the viewer may see, so an id of another organisation's object finds nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.tickets.models import (
    OPEN_STATUSES,
    PUBLIC_MESSAGE_KINDS,
    Attachment,
    AuditEntry,
    Message,
    Ticket,
)


def tickets_visible_to(viewer: Viewer) -> QuerySet[Ticket]:
    """Every ticket the viewer may see: customers their organisation's, staff by role."""
    tickets = Ticket.objects.all()
    if viewer.organisation is not None:
        return tickets.filter(organisation_id=viewer.organisation.pk)
    if viewer.sees_all_tickets:
        return tickets
    if viewer.staff is not None:
        staff = viewer.staff
        return tickets.filter(
            Q(organisation__account_manager=staff)
            | Q(organisation__project_manager=staff)
            | Q(assignee=staff)
        )
    return tickets.none()


def ticket_for(viewer: Viewer, pk: int, *, for_update: bool = False) -> Ticket:
    """The ticket `pk` if the viewer may see it; 404 otherwise (never says it exists)."""
    tickets = tickets_visible_to(viewer).select_related(
        "organisation", "requester", "assignee", "policy_version"
    )
    if for_update:
        tickets = tickets.select_for_update(of=("self",))
    ticket = tickets.filter(pk=pk).first()
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


def messages_for(viewer: Viewer, ticket: Ticket) -> QuerySet[Message]:
    """The conversation of a ticket the viewer already holds; customers never see notes."""
    messages = ticket.messages.select_related("author_staff", "author_contact").prefetch_related(
        "attachments"
    )
    if not viewer.is_staff:
        messages = messages.filter(kind__in=[str(k) for k in PUBLIC_MESSAGE_KINDS])
    return messages


def attachments_for(viewer: Viewer, ticket: Ticket) -> QuerySet[Attachment]:
    attachments = ticket.attachments.all()
    if not viewer.is_staff:
        attachments = attachments.filter(internal=False)
    return attachments


def attachment_for(viewer: Viewer, ticket: Ticket, pk: int) -> Attachment:
    attachment = attachments_for(viewer, ticket).filter(pk=pk).first()
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment


def audit_for(viewer: Viewer, ticket: Ticket) -> QuerySet[AuditEntry]:
    """Staff see the whole trail; customers none of it (it names internal work)."""
    if not viewer.is_staff:
        return AuditEntry.objects.none()
    return ticket.audit.select_related("actor")


# -- Agent queues ---------------------------------------------------------------------------

QUEUES = ("all", "mine", "region", "breaching", "escalated")
QUEUE_NAMES = {
    "all": "All open",
    "mine": "Mine",
    "region": "My region",
    "breaching": "Breaching soon",
    "escalated": "Escalated",
}
# "Breaching soon": running clocks due within this long, or already past due.
BREACHING_SOON = timedelta(hours=2)


def queue(viewer: Viewer, name: str, *, now: datetime | None = None) -> QuerySet[Ticket]:
    """Open tickets of a queue, what breaches first at the top (running clocks by due time,
    then answered ones, oldest first)."""
    now = now or timezone.now()
    tickets = (
        tickets_visible_to(viewer)
        .filter(status__in=[str(s) for s in OPEN_STATUSES])
        .select_related("organisation", "requester", "assignee")
    )
    if name == "mine":
        tickets = tickets.filter(assignee=viewer.staff) if viewer.staff else tickets.none()
    elif name == "region":
        region = viewer.staff.region if viewer.staff else ""
        tickets = tickets.filter(region=region) if region else tickets.none()
    elif name == "breaching":
        tickets = tickets.filter(
            first_response_at__isnull=True,
            first_response_due_at__isnull=False,
            first_response_due_at__lte=now + BREACHING_SOON,
        )
    elif name == "escalated":
        tickets = tickets.filter(escalated_at__isnull=False)
    elif name != "all":
        raise Http404(f"No queue {name!r}.")
    return by_what_breaches_first(tickets)


def by_what_breaches_first(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Running clocks first, earliest due first; then every other ticket, oldest first."""
    return tickets.order_by(
        F("first_response_at").asc(nulls_first=True),
        F("first_response_due_at").asc(nulls_last=True),
        "received_at",
        "pk",
    )


def hot_items(viewer: Viewer) -> QuerySet[Ticket]:
    """The CS lead's list: open escalated tickets, longest escalated first."""
    return (
        tickets_visible_to(viewer)
        .filter(escalated_at__isnull=False, status__in=[str(s) for s in OPEN_STATUSES])
        .select_related("organisation", "assignee")
        .order_by("escalated_at", "pk")
    )


def running_clocks() -> QuerySet[Ticket]:
    """Open tickets whose first-response clock runs (a target, no first response yet).

    These are the rows of the `ticket_running_clock_due` partial index.
    """
    return Ticket.objects.filter(
        status__in=[str(s) for s in OPEN_STATUSES],
        first_response_at__isnull=True,
        first_response_due_at__isnull=False,
    )
