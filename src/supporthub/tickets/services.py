"""Writes on tickets: open, converse, change severity. Each is one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from supporthub.actors import Actor, actor_user
from supporthub.customers.models import Organisation, SupportContact
from supporthub.customers.selectors import entitlement_on, local_date
from supporthub.sla import services as sla
from supporthub.staff.models import StaffMember
from supporthub.tickets.models import (
    AuditEntry,
    Channel,
    Message,
    MessageKind,
    Ticket,
    TicketType,
)


def audit(
    *, ticket: Ticket, code: str, actor: Actor = None, at: datetime | None = None, **data: Any
) -> AuditEntry:
    """Record a change with a stable code (never a translated label)."""
    return AuditEntry.objects.create(
        ticket=ticket, actor=actor_user(actor), code=code, data=data, at=at or timezone.now()
    )


def ticket_open(
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
) -> Ticket:
    """Open a ticket under the policy, subscription and severity in force at receipt."""
    received_at = received_at or timezone.now()
    with transaction.atomic():
        received_on = local_date(organisation, received_at)
        entitlement = entitlement_on(organisation=organisation, on=received_on)
        if entitlement is None:
            raise ValidationError(
                f"{organisation.name} has no subscription in force on {received_on.isoformat()}.",
                code="no_subscription",
            )
        policy = entitlement.policy
        if requester is not None and (
            requester.organisation_id != organisation.pk or not requester.is_active
        ):
            raise ValidationError(
                {
                    "requester": f"{requester.name} is not an active Support Contact of "
                    f"{organisation.name}."
                }
            )
        known = [s.level for s in policy.severities]
        if severity not in known:
            raise ValidationError(
                {
                    "severity": f"{policy.name} has no severity {severity} (known: "
                    f"{', '.join(map(str, known))})."
                }
            )
        asked = severity
        rule = policy.channels.get(channel)
        if rule is not None:
            if rule.forced_severity is not None:
                severity = rule.forced_severity
            elif severity not in rule.allowed_severities:
                allowed = ", ".join(map(str, rule.allowed_severities))
                raise ValidationError(
                    {
                        "severity": rule.message
                        or f"Severity {severity} cannot be opened through "
                        f"{Channel(channel).label}; this channel accepts severity {allowed}."
                    }
                )
        ticket = Ticket(
            organisation=organisation,
            requester=requester,
            subject=subject.strip(),
            body=body,
            severity=severity,
            type=type,
            channel=channel,
            received_at=received_at,
            policy_version=entitlement.policy_version,
            subscription=entitlement.subscription,
            support_level=entitlement.support_level.key,
        )
        sla.first_response_start(ticket=ticket, policy=policy, organisation=organisation)
        ticket.full_clean()
        ticket.save()
        audit(
            ticket=ticket,
            code="ticket.opened",
            actor=actor,
            at=received_at,
            channel=channel,
            severity=severity,
            policy_version=entitlement.policy_version.pk,
            support_level=ticket.support_level,
            first_response_due_at=sla.iso(ticket.first_response_due_at),
        )
        if asked != severity:
            audit(
                ticket=ticket,
                code="ticket.severity_forced_by_channel",
                actor=actor,
                at=received_at,
                channel=channel,
                requested=asked,
                severity=severity,
            )
        return ticket


def ticket_add_message(
    *,
    ticket: Ticket,
    kind: MessageKind,
    body: str,
    author_staff: StaffMember | None = None,
    author_contact: SupportContact | None = None,
    at: datetime | None = None,
) -> Message:
    """Add to the conversation; the first public reply by staff stops the first-response clock."""
    at = at or timezone.now()
    with transaction.atomic():
        message = Message(
            ticket=ticket,
            kind=kind,
            body=body,
            author_staff=author_staff,
            author_contact=author_contact,
            created_at=at,
        )
        message.full_clean()
        message.save()
        if (
            kind == MessageKind.PUBLIC_REPLY
            and author_staff is not None
            and ticket.first_response_at is None
        ):
            locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
            if locked.first_response_at is None:
                sla.first_response_record(ticket=locked, at=at)
                locked.version = F("version") + 1
                locked.save(update_fields=["first_response_at", "first_response_status", "version"])
                locked.refresh_from_db(fields=["version"])
                audit(
                    ticket=locked,
                    code="sla.first_response_" + locked.first_response_status,
                    actor=author_staff.user,
                    at=at,
                    due_at=sla.iso(locked.first_response_due_at),
                    responded_at=sla.iso(at),
                )
                ticket.first_response_at = locked.first_response_at
                ticket.first_response_status = locked.first_response_status
                ticket.version = locked.version
        return message


def ticket_change_severity(*, ticket: Ticket, severity: int, reason: str, actor: Actor) -> Ticket:
    """Change severity; before the first response the due time is re-derived from receipt."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the severity changes."})
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update().select_related("policy_version").get(pk=ticket.pk)
        )
        policy = ticket.policy_version.document()
        known = [s.level for s in policy.severities]
        if severity not in known:
            raise ValidationError(
                {
                    "severity": f"{policy.name} has no severity {severity} (known: "
                    f"{', '.join(map(str, known))})."
                }
            )
        if severity == ticket.severity:
            return ticket
        previous, previous_due = ticket.severity, ticket.first_response_due_at
        ticket.severity = severity
        fields = ["severity", "version"]
        if ticket.first_response_at is None:
            sla.first_response_start(ticket=ticket, policy=policy, organisation=ticket.organisation)
            fields += ["first_response_due_at", "first_response_status"]
        ticket.version += 1
        ticket.save(update_fields=fields)
        audit(
            ticket=ticket,
            code="ticket.severity_changed",
            actor=actor,
            previous=previous,
            severity=severity,
            reason=reason.strip(),
        )
        if ticket.first_response_at is None and previous_due != ticket.first_response_due_at:
            audit(
                ticket=ticket,
                code="sla.first_response_rederived",
                actor=actor,
                previous_due_at=sla.iso(previous_due),
                due_at=sla.iso(ticket.first_response_due_at),
                received_at=sla.iso(ticket.received_at),
            )
        return ticket
