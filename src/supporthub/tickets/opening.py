"""Opening a ticket, in three steps: decide (every refusal, before anything is written),
write (the ticket and its audit entries, in one transaction), then the side effects that go
with a new ticket (the acknowledgement's outbox row, the after-hours page). Imports of
another helpdesk's history open through the same steps, without the channel rule or a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.actors import Actor
from supporthub.customers.models import Organisation, SupportContact
from supporthub.customers.selectors import Entitlement, entitlement_on, local_date
from supporthub.dse.routing import Routing, route_new_case, routing_audit_entry
from supporthub.notify import services as notify
from supporthub.routing.paging import after_hours_roles, page_after_hours
from supporthub.routing.regions import region_for
from supporthub.sla import services as sla
from supporthub.sla.clocks import iso
from supporthub.tickets.audit import audit, audit_entry, audit_many
from supporthub.tickets.locks import require_staff
from supporthub.tickets.models import BodyFormat, Channel, Status, Ticket, TicketType

# Foreign keys whose rows the services already hold; full_clean would query each again.
_TICKET_FKS = ["organisation", "requester", "assignee", "policy_version", "subscription"]


@dataclass(frozen=True)
class TicketRequest:
    """What is asked for: a ticket of this organisation, from this requester (None: nobody
    named), received through this channel at `received_at` (None: now)."""

    organisation: Organisation
    requester: SupportContact | None
    subject: str
    body: str
    severity: int
    channel: Channel
    type: TicketType = TicketType.INCIDENT
    body_format: BodyFormat = BodyFormat.TEXT
    received_at: datetime | None = None
    external_id: str = ""


@dataclass(frozen=True)
class Opening:
    """What ticket_decide settled: the ticket to write (unsaved), the entitlement it opens
    under, the severity asked (a channel rule may have forced another) and the roles an
    after-hours page alerts (empty: no page); `dse`: what the Designated Support Engineer
    rule decided (None: no engagement serves the case)."""

    ticket: Ticket
    entitlement: Entitlement
    asked: int
    page_roles: tuple[str, ...]
    dse: Routing | None = None


def ticket_decide(
    *, request: TicketRequest, imported: bool = False, entitlement: Entitlement | None = None
) -> Opening:
    """Everything that can refuse the ticket, checked before the first write and outside any
    transaction of ours (a refusal, a ValidationError, leaves a caller's transaction usable).

    `imported`: history from another helpdesk (what happened, happened): no channel rule, no
    page. `entitlement`: what the caller read already for the organisation on the day of
    `request.received_at` (which it must then give); None reads it here.
    """
    organisation = request.organisation
    received_at = request.received_at or timezone.now()
    received_on = local_date(organisation, received_at)
    if entitlement is None:
        entitlement = entitlement_on(organisation=organisation, on=received_on)
    elif entitlement.subscription.organisation_id != organisation.pk:
        raise ValueError(f"the entitlement given is not {organisation.name}'s")
    if entitlement is None:
        raise ValidationError(
            f"{organisation.name} has no subscription in force on {received_on.isoformat()}.",
            code="no_subscription",
        )
    policy = entitlement.policy
    requester = request.requester
    if requester is not None and (
        requester.organisation_id != organisation.pk or not requester.is_active
    ):
        raise ValidationError(
            {
                "requester": f"{requester.name} is not an active Support Contact of "
                f"{organisation.name}."
            }
        )
    severity = asked = request.severity
    known = [s.level for s in policy.severities]
    if severity not in known:
        raise ValidationError(
            {
                "severity": f"{policy.name} has no severity {severity} (known: "
                f"{', '.join(map(str, known))})."
            }
        )
    rule = None if imported else policy.channels.get(request.channel)
    if rule is not None:
        if rule.forced_severity is not None:
            severity = rule.forced_severity
        elif severity not in rule.allowed_severities:
            allowed = ", ".join(map(str, rule.allowed_severities))
            raise ValidationError(
                {
                    "severity": rule.message
                    or f"Severity {severity} cannot be opened through "
                    f"{Channel(request.channel).label}; this channel accepts severity {allowed}."
                }
            )
    ticket = Ticket(
        organisation=organisation,
        requester=requester,
        subject=request.subject.strip(),
        body=request.body,
        body_format=request.body_format,
        external_id=request.external_id,
        severity=severity,
        type=request.type,
        channel=request.channel,
        received_at=received_at,
        policy_version=entitlement.policy_version,
        subscription=entitlement.subscription,
        support_level=entitlement.support_level.key,
    )
    stamp = entitlement.calendar_stamp
    sla.first_response_start(
        ticket=ticket, policy=policy, organisation=organisation, calendar_stamp=stamp
    )
    region = region_for(policy, received_at, calendar_stamp=stamp)
    ticket.region = region.key if region is not None else ""
    # A case of a subscription a DSE engagement covers goes to the DSE inside their Available
    # Hours and under the Monthly Limit (reads only for covered subscriptions); imported
    # history keeps its own assignment.
    dse = None if imported else route_new_case(ticket=ticket, policy=policy)
    # The related rows are in hand: skip full_clean's one existence query per foreign key.
    ticket.full_clean(exclude=_TICKET_FKS)
    # After-hours urgent (seed 000): page the on-call engineer, notify the CS lead. Imported
    # history was handled long ago: it pages nobody.
    roles = (
        () if imported else after_hours_roles(policy=policy, ticket=ticket, calendar_stamp=stamp)
    )
    return Opening(ticket=ticket, entitlement=entitlement, asked=asked, page_roles=roles, dse=dse)


def ticket_open(
    *,
    request: TicketRequest,
    actor: Actor = None,
    imported: bool = False,
    entitlement: Entitlement | None = None,
    acknowledge: bool = True,
) -> Ticket:
    """Open a ticket under the policy, subscription and severity in force at receipt.

    Decide (ticket_decide: refusals are raised before anything is written), write the ticket
    and its audit entries, then its side effects: the acknowledgement to the outbox (unless
    `acknowledge=False`: the caller sends its own, or none) and the after-hours page. The
    writes take no savepoint inside a caller's transaction: a database error there rolls
    back to the caller's savepoint, or the caller's whole transaction. Callers that record
    more about the opening write their own audit entries after it, through tickets.audit.
    """
    opening = ticket_decide(request=request, imported=imported, entitlement=entitlement)
    ticket = opening.ticket
    with transaction.atomic(savepoint=False):
        ticket.save(force_insert=True)
        _audit_opened(opening, actor=actor)
        # Outbound mail: the acknowledgement goes to the outbox in this transaction.
        if acknowledge:
            notify.outbox_enqueue_acknowledgement(ticket=ticket)
        if opening.page_roles:
            page_after_hours(
                ticket=ticket, policy=opening.entitlement.policy, roles=opening.page_roles
            )
    return ticket


def _audit_opened(opening: Opening, *, actor: Actor) -> None:
    ticket, entitlement = opening.ticket, opening.entitlement
    entries = [
        audit_entry(
            ticket=ticket,
            code="ticket.opened",
            actor=actor,
            at=ticket.received_at,
            channel=ticket.channel,
            severity=ticket.severity,
            policy_version=entitlement.policy_version.pk,
            support_level=ticket.support_level,
            first_response_due_at=iso(ticket.first_response_due_at),
            region=ticket.region,
        )
    ]
    if opening.dse is not None:
        entries.append(routing_audit_entry(ticket=ticket, routing=opening.dse, actor=actor))
    if opening.asked != ticket.severity:
        entries.append(
            audit_entry(
                ticket=ticket,
                code="ticket.severity_forced_by_channel",
                actor=actor,
                at=ticket.received_at,
                channel=ticket.channel,
                requested=opening.asked,
                severity=ticket.severity,
            )
        )
    audit_many(entries)


def ticket_import(
    *,
    organisation: Organisation,
    requester: SupportContact | None,
    subject: str,
    body: str,
    severity: int,
    type: TicketType,
    channel: Channel,
    opened_at: datetime,
    first_response_at: datetime | None,
    status: Status,
    external_id: str,
    viewer: Viewer,
) -> Ticket:
    """Bring in a ticket from another helpdesk with its own history: the clock is measured
    from its original opening under what was in force then, and its first response (if any)
    records met or breached, so SLA history survives the move."""
    require_staff(viewer, "import tickets")
    now = timezone.now()
    if opened_at > now:
        raise ValidationError({"opened_at": "An imported ticket cannot open in the future."})
    if first_response_at is not None and not opened_at <= first_response_at <= now:
        raise ValidationError(
            {"first_response_at": "The first response must fall between opened_at and now."}
        )
    with transaction.atomic():
        ticket = ticket_open(
            request=TicketRequest(
                organisation=organisation,
                requester=requester if requester is None or requester.is_active else None,
                subject=subject,
                body=body,
                severity=severity,
                channel=channel,
                type=type,
                received_at=opened_at,
                external_id=external_id,
            ),
            actor=viewer.user,
            imported=True,
            acknowledge=False,  # imported history: the customer was answered long ago
        )
        fields = ["status", "version", "updated_at"]
        if first_response_at is not None:
            sla.first_response_record(ticket=ticket, at=first_response_at)
            fields += ["first_response_at", "first_response_status"]
        else:
            # Breach warnings that fell due before the import are history, not news.
            sla.warnings_skip_past(
                ticket=ticket,
                policy=ticket.policy_version.document(),
                organisation=organisation,
                now=now,
            )
            fields += ["sla_warned_point", "sla_next_warning_at"]
        ticket.status = status
        ticket.version += 1
        ticket.save(update_fields=fields)
        audit(
            ticket=ticket,
            code="ticket.imported",
            actor=viewer.user,
            at=now,
            external_id=external_id,
            opened_at=iso(opened_at),
            first_response_at=iso(first_response_at),
            first_response_status=ticket.first_response_status,
            status=status,
        )
        return ticket
