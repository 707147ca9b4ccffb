"""Opening tickets in tests with plain keywords (what `tickets.opening.ticket_open` is asked
through a TicketRequest)."""

from __future__ import annotations

from datetime import datetime

from supporthub.actors import Actor
from supporthub.customers.models import Organisation, SupportContact
from supporthub.tickets.models import BodyFormat, Channel, Ticket, TicketType
from supporthub.tickets.opening import TicketRequest, ticket_open


def open_ticket(
    *,
    organisation: Organisation,
    requester: SupportContact | None,
    subject: str,
    body: str,
    severity: int,
    channel: Channel,
    type: TicketType = TicketType.INCIDENT,
    received_at: datetime | None = None,
    actor: Actor = None,
    body_format: BodyFormat = BodyFormat.TEXT,
    external_id: str = "",
    acknowledge: bool = True,
) -> Ticket:
    """`ticket_open` of a TicketRequest made of these keywords."""
    return ticket_open(
        request=TicketRequest(
            organisation=organisation,
            requester=requester,
            subject=subject,
            body=body,
            severity=severity,
            channel=channel,
            type=type,
            body_format=body_format,
            received_at=received_at,
            external_id=external_id,
        ),
        actor=actor,
        acknowledge=acknowledge,
    )
