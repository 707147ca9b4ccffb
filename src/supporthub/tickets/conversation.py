"""The conversation on a ticket: messages (replies and internal notes) and attachments."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.customers.models import SupportContact
from supporthub.dse.routing import cover_if_needed
from supporthub.notify import services as notify
from supporthub.sla import services as sla
from supporthub.sla.clocks import iso
from supporthub.staff.models import StaffMember
from supporthub.tickets.audit import audit
from supporthub.tickets.locks import keep_in_step
from supporthub.tickets.models import Attachment, BodyFormat, Message, MessageKind, Status, Ticket


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
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
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
        message.save(force_insert=True)
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
                due_at=iso(locked.first_response_due_at),
                responded_at=iso(at),
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
        if author_contact is not None and kind == MessageKind.PUBLIC_REPLY:
            # A case the Designated Support Engineer holds, written to outside their Available
            # Hours or past the Monthly Limit, is covered by normal routing meanwhile.
            cover_if_needed(ticket=locked, at=at)
        # Outbound mail: a staff public reply (naming any status it set) goes to the outbox in
        # this transaction; internal notes and the customer's own replies send nothing.
        notify.outbox_enqueue_staff_reply(
            ticket=locked, message=message, status_before=status_before
        )
        keep_in_step(locked, onto=ticket, fields=fields)
        return message


def _status_after_message(ticket: Ticket, *, kind: MessageKind, by_staff: bool) -> Status | None:
    if kind != MessageKind.PUBLIC_REPLY:
        return None
    if by_staff and ticket.status == Status.NEW:
        return Status.OPEN
    if not by_staff and ticket.status in (Status.PENDING_CUSTOMER, Status.SOLVED):
        return Status.OPEN
    return None


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
