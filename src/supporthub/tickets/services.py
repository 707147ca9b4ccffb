"""Writes on tickets: open, converse, change severity. Each is one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.actors import Actor
from supporthub.customers.models import Organisation, SupportContact
from supporthub.customers.selectors import entitlement_on, local_date
from supporthub.notify import services as notify
from supporthub.prepared import Prepared, insert
from supporthub.routing.regions import region_for
from supporthub.sla import services as sla
from supporthub.staff.models import StaffMember
from supporthub.tickets.audit import audit, audit_entry
from supporthub.tickets.models import (
    Attachment,
    AuditEntry,
    BodyFormat,
    Channel,
    Message,
    MessageKind,
    Status,
    Ticket,
    TicketType,
)

# Foreign keys whose rows the services already hold; full_clean would query each again.
_TICKET_FKS = ["organisation", "requester", "assignee", "policy_version", "subscription"]


class VersionConflict(Exception):
    """The ticket changed since the caller read it (a stale If-Match or form)."""

    def __init__(self, current: int) -> None:
        super().__init__(
            f"The ticket has changed since you read it (it is now at version {current}); "
            "read it again and retry."
        )
        self.current = current


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
    body_format: BodyFormat = BodyFormat.TEXT,
    external_id: str = "",
    enforce_channel: bool = True,
    acknowledge: bool = True,
    audit_into: list[AuditEntry] | None = None,
) -> Ticket:
    """Open a ticket under the policy, subscription and severity in force at receipt.

    `enforce_channel=False` is for imported history only: what happened, happened.
    `audit_into`: the opening's audit entries are appended there, unsaved, for a caller that
    writes them with entries of its own in one INSERT (an after-hours page writes them first).
    Refusals (ValidationError) are raised before anything is written. The writes take no
    savepoint inside a caller's transaction: a database error there rolls back to the
    caller's savepoint, or the caller's whole transaction.
    """
    from supporthub.routing.paging import after_hours_roles, page_after_hours

    received_at = received_at or timezone.now()
    # Everything that can refuse the ticket is checked before the first write (and outside
    # the transaction: a refusal leaves a caller's transaction usable).
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
    rule = policy.channels.get(channel) if enforce_channel else None
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
        body_format=body_format,
        external_id=external_id,
        severity=severity,
        type=type,
        channel=channel,
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
    # The related rows are in hand: skip full_clean's one existence query per foreign key.
    ticket.full_clean(exclude=_TICKET_FKS)
    with transaction.atomic(savepoint=False):
        insert([ticket])  # Ticket.save() adds nothing to an INSERT (no override, no signals)
        opened = [
            audit_entry(
                ticket=ticket,
                code="ticket.opened",
                actor=actor,
                at=received_at,
                channel=channel,
                severity=severity,
                policy_version=entitlement.policy_version.pk,
                support_level=ticket.support_level,
                first_response_due_at=sla.iso(ticket.first_response_due_at),
                region=ticket.region,
            )
        ]
        if asked != severity:
            opened.append(
                audit_entry(
                    ticket=ticket,
                    code="ticket.severity_forced_by_channel",
                    actor=actor,
                    at=received_at,
                    channel=channel,
                    requested=asked,
                    severity=severity,
                )
            )
        # After-hours urgent (seed 000): page the on-call engineer, notify the CS lead.
        # Imported history (enforce_channel=False) was handled long ago: it pages nobody.
        roles = (
            after_hours_roles(policy=policy, ticket=ticket, calendar_stamp=stamp)
            if enforce_channel
            else ()
        )
        if audit_into is None or roles:
            insert(opened)
        else:
            audit_into.extend(opened)
        # Outbound mail: the acknowledgement goes to the outbox in this transaction.
        if acknowledge:
            notify.outbox_enqueue_acknowledgement(ticket=ticket)
        if roles:
            page_after_hours(ticket=ticket, policy=policy, roles=roles)
        return ticket


# The ticket a message is added to, locked: compiled once (every reply by mail takes it). Its
# callers run in a transaction, as compiling it (select_for_update) checks the first time.
_LOCKED: Prepared[Ticket] = Prepared(
    lambda pk: Ticket.objects.select_for_update().filter(pk=pk).order_by(), markers=(-424242,)
)


def ticket_add_message(
    *,
    ticket: Ticket,
    kind: MessageKind,
    body: str,
    author_staff: StaffMember | None = None,
    author_contact: SupportContact | None = None,
    at: datetime | None = None,
    body_format: BodyFormat = BodyFormat.TEXT,
) -> Message:
    """Add to the conversation; the first public reply by staff stops the first-response clock.

    A staff reply takes a new ticket to open; a customer reply reopens a ticket that waited
    on the customer or was solved. Closed tickets take no more messages.
    """
    at = at or timezone.now()
    if not body.strip():
        raise ValidationError({"body": "Write a message."})
    with transaction.atomic():
        locked = _LOCKED.first(ticket.pk)
        if locked is None:  # as get() says it
            raise Ticket.DoesNotExist("Ticket matching query does not exist.")
        if locked.status == Status.CLOSED:
            raise ValidationError(
                {"body": f"{locked.reference} is closed; open a new ticket to follow up."}
            )
        status_before = locked.status  # for the outbound mail below
        message = Message(
            ticket=locked,
            kind=kind,
            body=body,
            body_format=body_format,
            author_staff=author_staff,
            author_contact=author_contact,
            created_at=at,
        )
        message.full_clean(exclude=["ticket", "author_staff", "author_contact"])
        insert([message])
        fields = ["version", "updated_at"]
        actor = author_staff.user if author_staff is not None else None
        if author_contact is not None:
            actor = author_contact.user
        audit(ticket=locked, code=f"message.{kind}", actor=actor, at=at, message=message.pk)
        if (
            kind == MessageKind.PUBLIC_REPLY
            and author_staff is not None
            and locked.first_response_at is None
        ):
            sla.first_response_record(ticket=locked, at=at)
            fields += ["first_response_at", "first_response_status"]
            audit(
                ticket=locked,
                code="sla.first_response_" + locked.first_response_status,
                actor=actor,
                at=at,
                due_at=sla.iso(locked.first_response_due_at),
                responded_at=sla.iso(at),
            )
        new_status = _status_after_message(locked, kind=kind, by_staff=author_staff is not None)
        if new_status is not None:
            audit(
                ticket=locked,
                code="ticket.status_changed",
                actor=actor,
                at=at,
                previous=locked.status,
                status=new_status,
            )
            locked.status = new_status
            fields.append("status")
        locked.version += 1
        locked.save(update_fields=fields)
        # Outbound mail: a staff public reply (naming any status it set) goes to the outbox in
        # this transaction; internal notes and the customer's own replies send nothing.
        notify.outbox_enqueue_staff_reply(
            ticket=locked, message=message, status_before=status_before
        )
        _copy(locked, onto=ticket, fields=fields)
        return message


def _status_after_message(ticket: Ticket, *, kind: MessageKind, by_staff: bool) -> Status | None:
    if kind != MessageKind.PUBLIC_REPLY:
        return None
    if by_staff and ticket.status == Status.NEW:
        return Status.OPEN
    if not by_staff and ticket.status in (Status.PENDING_CUSTOMER, Status.SOLVED):
        return Status.OPEN
    return None


def _copy(source: Ticket, *, onto: Ticket, fields: Iterable[str]) -> None:
    """Keep the caller's instance in step with the row just written."""
    for name in fields:
        if name != "updated_at":
            setattr(onto, name, getattr(source, name))


def _lock(ticket: Ticket, expected_version: int | None) -> Ticket:
    locked = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("organisation", "policy_version", "assignee")
        .get(pk=ticket.pk)
    )
    if expected_version is not None and expected_version != locked.version:
        raise VersionConflict(locked.version)
    return locked


def _require_staff(viewer: Viewer, what: str) -> StaffMember | None:
    if not viewer.is_staff:
        raise PermissionDenied(f"Only staff can {what}.")
    return viewer.staff


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
        _require_staff(viewer, "write internal notes")
    if not viewer.can_reply:
        raise PermissionDenied(viewer.why_cannot_open())
    if status is not None:
        _require_staff(viewer, "change the status")
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


def attachment_add(
    *,
    ticket: Ticket,
    upload: UploadedFile,
    viewer: Viewer,
    message: Message | None = None,
) -> Attachment:
    """Store a file on a ticket within the size limit; on an internal note it stays internal."""
    limit = settings.ATTACHMENT_MAX_BYTES
    name = Path(upload.name or "attachment").name[:255] or "attachment"
    if upload.size is None or upload.size > limit:
        raise ValidationError(
            {"file": f"{name} is {megabytes(upload.size or 0)}; the limit is {megabytes(limit)}."}
        )
    if not viewer.can_reply:
        raise PermissionDenied(viewer.why_cannot_open())
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    with transaction.atomic():
        attachment = Attachment(
            ticket=ticket,
            message=message,
            filename=name,
            content_type=(upload.content_type or "application/octet-stream")[:150],
            size=upload.size,
            sha256=digest.hexdigest(),
            internal=message is not None and not message.is_public,
            uploaded_by=viewer.user,
            created_at=timezone.now(),
        )
        attachment.file.save(name, upload, save=False)
        attachment.save()
        audit(
            ticket=ticket,
            code="attachment.added",
            actor=viewer.user,
            attachment=attachment.pk,
            filename=name,
            size=attachment.size,
            internal=attachment.internal,
        )
        return attachment


def megabytes(size: int) -> str:
    """A size as people read attachment limits: '25.0 MB'."""
    return f"{size / (1024 * 1024):.1f} MB"


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
        locked = _lock(ticket, expected_version)
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
                previous_due_at=sla.iso(previous_due),
                due_at=sla.iso(locked.first_response_due_at),
                received_at=sla.iso(locked.received_at),
            )
        _copy(locked, onto=ticket, fields=fields)
        return locked


def ticket_assign(
    *,
    ticket: Ticket,
    assignee: StaffMember | None,
    viewer: Viewer,
    expected_version: int | None = None,
) -> Ticket:
    """Give the ticket to a staff member (or to nobody)."""
    _require_staff(viewer, "assign tickets")
    if assignee is not None and not assignee.is_active:
        raise ValidationError({"assignee": f"{assignee} is not an active staff member."})
    with transaction.atomic():
        locked = _lock(ticket, expected_version)
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
        _copy(locked, onto=ticket, fields=["assignee", "version"])
        return locked


def ticket_set_status(
    *,
    ticket: Ticket,
    status: Status,
    viewer: Viewer,
    expected_version: int | None = None,
) -> Ticket:
    """Move the ticket to a status; out of scope is its own step (it needs an exclusion)."""
    _require_staff(viewer, "change the status")
    status = Status(status)
    with transaction.atomic():
        locked = _lock(ticket, expected_version)
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
            from supporthub.routing.paging import page_resolve

            page_resolve(ticket=locked)  # an after-hours page, if any, is resolved
        _copy(locked, onto=ticket, fields=["status", "version"])
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
    _require_staff(viewer, "close tickets as out of scope")
    with transaction.atomic():
        locked = _lock(ticket, expected_version)
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
        _copy(locked, onto=ticket, fields=["status", "out_of_scope", "version"])
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
        _require_staff(viewer, "escalate tickets")
    if not reason.strip():
        raise ValidationError({"reason": "Say why it needs the CS lead."})
    with transaction.atomic():
        locked = _lock(ticket, expected_version)
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
        sla.escalation_notify(ticket=locked, by=str(viewer.staff or viewer.user) if viewer else "")
        _copy(locked, onto=ticket, fields=["escalated_at", "escalation_reason", "version"])
        return locked


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
    _require_staff(viewer, "import tickets")
    now = timezone.now()
    if opened_at > now:
        raise ValidationError({"opened_at": "An imported ticket cannot open in the future."})
    if first_response_at is not None and not opened_at <= first_response_at <= now:
        raise ValidationError(
            {"first_response_at": "The first response must fall between opened_at and now."}
        )
    with transaction.atomic():
        ticket = ticket_open(
            organisation=organisation,
            requester=requester if requester is None or requester.is_active else None,
            subject=subject,
            body=body,
            severity=severity,
            channel=channel,
            type=type,
            received_at=opened_at,
            actor=viewer.user,
            external_id=external_id,
            enforce_channel=False,
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
            opened_at=sla.iso(opened_at),
            first_response_at=sla.iso(first_response_at),
            first_response_status=ticket.first_response_status,
            status=status,
        )
        return ticket
