"""Writes on tickets: reply, change severity, assign, change status, close, escalate. Each
is one transaction. Opening is in tickets.opening, messages and attachments in
tickets.conversation."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.actors import Actor
from supporthub.notify import services as notify
from supporthub.notify.escalation import escalation_notify
from supporthub.routing.paging import page_resolve
from supporthub.sla import services as sla
from supporthub.sla.clocks import iso
from supporthub.staff.models import StaffMember
from supporthub.tickets.audit import audit
from supporthub.tickets.conversation import attachment_add, ticket_add_message
from supporthub.tickets.locks import keep_in_step, require_staff, ticket_locked
from supporthub.tickets.models import (
    AuditEntry,
    BodyFormat,
    Message,
    MessageKind,
    Status,
    Ticket,
)


def ticket_reply(
    *,
    ticket: Ticket,
    viewer: Viewer,
    body: str,
    internal: bool = False,
    uploads: Sequence[UploadedFile] = (),
    status: Status | None = None,
    body_format: BodyFormat = BodyFormat.TEXT,
) -> Message:
    """A reply or an internal note from whoever is asking, with its attachments, in one go.

    Staff may set the status in the same step (reply and mark pending, say).
    """
    if internal:
        require_staff(viewer, "write internal notes")
    if not viewer.can_reply:
        raise PermissionDenied(viewer.why_cannot_open())
    if status is not None:
        require_staff(viewer, "change the status")
    if len(uploads) > settings.ATTACHMENTS_PER_MESSAGE:
        raise ValidationError(
            {
                "file": f"{len(uploads)} files attached; at most "
                f"{settings.ATTACHMENTS_PER_MESSAGE} go with one message."
            }
        )
    kind = MessageKind.INTERNAL_NOTE if internal else MessageKind.PUBLIC_REPLY
    with transaction.atomic():
        if viewer.is_staff:
            message = ticket_add_message(
                ticket=ticket,
                kind=kind,
                body=body,
                author_staff=viewer.staff,
                body_format=body_format,
            )
            if message.author_staff is None and viewer.user is not None:
                # A superuser with no staff record: the audit entry still names the login.
                AuditEntry.objects.filter(
                    ticket=ticket, code=f"message.{kind}", data__message=message.pk
                ).update(actor=viewer.user)
        else:
            message = ticket_add_message(
                ticket=ticket,
                kind=kind,
                body=body,
                author_contact=viewer.contact,
                body_format=body_format,
            )
        for upload in uploads:
            attachment_add(ticket=ticket, upload=upload, viewer=viewer, message=message)
        if status is not None and status != ticket.status:
            ticket_set_status(ticket=ticket, status=status, viewer=viewer)
        return message


def ticket_change_severity(
    *,
    ticket: Ticket,
    severity: int,
    reason: str,
    actor: Actor,
    expected_version: int | None = None,
) -> Ticket:
    """Change severity; before the first response the due time is re-derived from receipt."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the severity changes."})
    with transaction.atomic():
        locked = ticket_locked(ticket, expected_version)
        policy = locked.policy_version.document()
        known = [s.level for s in policy.severities]
        if severity not in known:
            raise ValidationError(
                {
                    "severity": f"{policy.name} has no severity {severity} (known: "
                    f"{', '.join(map(str, known))})."
                }
            )
        if severity == locked.severity:
            return locked
        previous, previous_due = locked.severity, locked.first_response_due_at
        locked.severity = severity
        fields = ["severity", "version", "updated_at"]
        if locked.first_response_at is None:
            sla.first_response_start(ticket=locked, policy=policy, organisation=locked.organisation)
            sla.warnings_follow_due(
                ticket=locked,
                previous_due=previous_due,
                policy=policy,
                organisation=locked.organisation,
            )
            fields += [
                "first_response_due_at",
                "first_response_status",
                "sla_next_warning_at",
                "sla_warned_point",
            ]
        locked.version += 1
        locked.save(update_fields=fields)
        audit(
            ticket=locked,
            code="ticket.severity_changed",
            actor=actor,
            previous=previous,
            severity=severity,
            reason=reason.strip(),
        )
        if locked.first_response_at is None and previous_due != locked.first_response_due_at:
            audit(
                ticket=locked,
                code="sla.first_response_rederived",
                actor=actor,
                previous_due_at=iso(previous_due),
                due_at=iso(locked.first_response_due_at),
                received_at=iso(locked.received_at),
            )
        keep_in_step(locked, onto=ticket, fields=fields)
        return locked


def ticket_assign(
    *,
    ticket: Ticket,
    assignee: StaffMember | None,
    viewer: Viewer,
    expected_version: int | None = None,
) -> Ticket:
    """Give the ticket to a staff member (or to nobody)."""
    require_staff(viewer, "assign tickets")
    if assignee is not None and not assignee.is_active:
        raise ValidationError({"assignee": f"{assignee} is not an active staff member."})
    with transaction.atomic():
        locked = ticket_locked(ticket, expected_version)
        if locked.assignee_id == (assignee.pk if assignee else None):
            return locked
        previous = locked.assignee_id
        locked.assignee = assignee
        locked.version += 1
        locked.save(update_fields=["assignee", "version", "updated_at"])
        audit(
            ticket=locked,
            code="ticket.assigned" if assignee else "ticket.unassigned",
            actor=viewer.user,
            previous=previous,
            assignee=assignee.pk if assignee else None,
        )
        keep_in_step(locked, onto=ticket, fields=["assignee", "version"])
        return locked


def ticket_set_status(
    *,
    ticket: Ticket,
    status: Status,
    viewer: Viewer,
    expected_version: int | None = None,
) -> Ticket:
    """Move the ticket to a status; out of scope is its own step (it needs an exclusion)."""
    require_staff(viewer, "change the status")
    status = Status(status)
    with transaction.atomic():
        locked = ticket_locked(ticket, expected_version)
        if locked.status == status:
            return locked
        if locked.status == Status.CLOSED:
            raise ValidationError({"status": f"{locked.reference} is closed; it stays closed."})
        previous = locked.status
        locked.status = status
        locked.version += 1
        locked.save(update_fields=["status", "version", "updated_at"])
        entry = audit(
            ticket=locked,
            code="ticket.status_changed",
            actor=viewer.user,
            previous=previous,
            status=status,
        )
        # Outbound mail: the status change goes to the outbox in this transaction.
        notify.outbox_enqueue_status_change(
            ticket=locked, previous=previous, audit_entry_id=entry.pk
        )
        if status in (Status.SOLVED, Status.CLOSED):
            page_resolve(ticket=locked)  # an after-hours page, if any, is resolved
        keep_in_step(locked, onto=ticket, fields=["status", "version"])
        return locked


def ticket_close_out_of_scope(
    *,
    ticket: Ticket,
    exclusion: str,
    note: str,
    viewer: Viewer,
    expected_version: int | None = None,
) -> Ticket:
    """Close as out of scope, citing one of the policy's exclusions (seed 003)."""
    require_staff(viewer, "close tickets as out of scope")
    with transaction.atomic():
        locked = ticket_locked(ticket, expected_version)
        policy = locked.policy_version.document()
        known = {e.key: e for e in policy.exclusions}
        if exclusion not in known:
            names = ", ".join(known) or "none"
            raise ValidationError(
                {
                    "exclusion": f"{policy.name} has no exclusion {exclusion!r}; a ticket closes "
                    f"as out of scope only with one of the policy's exclusions ({names})."
                }
            )
        if locked.status == Status.CLOSED:
            raise ValidationError({"status": f"{locked.reference} is already closed."})
        previous = locked.status
        if note.strip():
            # The note goes in while the ticket still takes messages; it updates `locked`.
            ticket_add_message(
                ticket=locked,
                kind=MessageKind.INTERNAL_NOTE,
                body=f"Closed as out of scope ({known[exclusion].name or exclusion}): "
                f"{note.strip()}",
                author_staff=viewer.staff,
            )
        locked.status = Status.CLOSED
        locked.out_of_scope = exclusion
        locked.version += 1
        locked.save(update_fields=["status", "out_of_scope", "version", "updated_at"])
        entry = audit(
            ticket=locked,
            code="ticket.closed_out_of_scope",
            actor=viewer.user,
            previous=previous,
            exclusion=exclusion,
            note=note.strip(),
        )
        # Outbound mail: the closure, citing the policy's exclusion (never the internal note).
        notify.outbox_enqueue_status_change(
            ticket=locked,
            previous=previous,
            audit_entry_id=entry.pk,
            reason="Closed as out of scope under the support policy: "
            f"{known[exclusion].name or known[exclusion].description}",
        )
        keep_in_step(locked, onto=ticket, fields=["status", "out_of_scope", "version"])
        return locked


def ticket_escalate(
    *,
    ticket: Ticket,
    reason: str,
    viewer: Viewer | None,
    expected_version: int | None = None,
) -> Ticket:
    """Escalate to the CS lead's hot items; `viewer` None is the system (a breach rule)."""
    if viewer is not None:
        require_staff(viewer, "escalate tickets")
    if not reason.strip():
        raise ValidationError({"reason": "Say why it needs the CS lead."})
    with transaction.atomic():
        locked = ticket_locked(ticket, expected_version)
        if locked.escalated_at is not None:
            raise ValidationError(
                {"reason": f"{locked.reference} is already escalated to the CS lead."}
            )
        if not locked.is_open:
            raise ValidationError({"reason": f"{locked.reference} is no longer open."})
        locked.escalated_at = timezone.now()
        locked.escalation_reason = reason.strip()
        locked.version += 1
        locked.save(update_fields=["escalated_at", "escalation_reason", "version", "updated_at"])
        audit(
            ticket=locked,
            code="ticket.escalated",
            actor=viewer.user if viewer else None,
            reason=locked.escalation_reason,
        )
        escalation_notify(ticket=locked, by=str(viewer.staff or viewer.user) if viewer else "")
        keep_in_step(locked, onto=ticket, fields=["escalated_at", "escalation_reason", "version"])
        return locked


def ticket_progress_note(*, ticket: Ticket, body: str, solve: bool = False, source: str) -> Message:
    """A customer-visible note written by the product (a development ticket's move), mailed
    to the requester. With `solve`, the note solves the ticket in the same transaction and
    the mail is the status change quoting it; a ticket no longer open keeps its status."""
    with transaction.atomic():
        locked = ticket_locked(ticket, None)
        message = ticket_add_message(ticket=locked, kind=MessageKind.PROGRESS_NOTE, body=body)
        if solve and locked.is_open:
            previous = locked.status
            locked.status = Status.SOLVED
            locked.version += 1
            locked.save(update_fields=["status", "version", "updated_at"])
            entry = audit(
                ticket=locked,
                code="ticket.status_changed",
                actor=None,
                previous=previous,
                status=Status.SOLVED,
                source=source,
                message=message.pk,
            )
            notify.outbox_enqueue_status_change(
                ticket=locked, previous=previous, audit_entry_id=entry.pk, reason=body
            )
            page_resolve(ticket=locked)
        else:
            notify.outbox_enqueue_progress_note(ticket=locked, message=message)
        keep_in_step(locked, onto=ticket, fields=["status", "version"])
        return message
