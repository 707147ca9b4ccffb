"""Tickets, messages and attachments as the API shows them; built from rows in hand, so
showing an object never queries (the selectors fetch what these read)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse

from supporthub.policies.models import PolicyVersion
from supporthub.sla.clocks import iso
from supporthub.sla.selectors import first_response_state
from supporthub.tickets.models import Attachment, Message, Ticket
from supporthub.tickets.rendering import render_body


def etag(ticket: Ticket) -> str:
    return f'"{ticket.version}"'


def ticket_url(ticket: Ticket) -> str:
    return reverse("api:ticket_get", kwargs={"ticket_id": ticket.pk})


def ticket_out(ticket: Ticket, *, now: datetime | None = None) -> dict[str, Any]:
    organisation = ticket.organisation
    requester = ticket.requester
    assignee = ticket.assignee
    return {
        "id": ticket.pk,
        "reference": ticket.reference,
        "organisation": {"id": organisation.pk, "name": organisation.name},
        "requester": (
            {"id": requester.pk, "name": requester.name, "email": requester.email}
            if requester is not None
            else None
        ),
        "subject": ticket.subject,
        "body": ticket.body,
        "body_format": ticket.body_format,
        "severity": ticket.severity,
        "type": ticket.type,
        "channel": ticket.channel,
        "status": ticket.status,
        "assignee": {"id": assignee.pk, "name": assignee.display_name} if assignee else None,
        "region": ticket.region,
        "received_at": iso(ticket.received_at),
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "version": ticket.version,
        "escalated_at": iso(ticket.escalated_at),
        "out_of_scope": ticket.out_of_scope,
        "support_level": ticket.support_level,
        "policy_version": _policy_version(ticket.policy_version),
        "sla": {
            "first_response": {
                "due_at": iso(ticket.first_response_due_at),
                "status": first_response_state(ticket, now=now),
                "responded_at": iso(ticket.first_response_at),
            }
        },
    }


def _policy_version(version: PolicyVersion) -> dict[str, Any]:
    # The policy row when fetched with the version; else the key from the parsed document,
    # which each process parses once per version.
    if PolicyVersion.policy.is_cached(version):
        key = version.policy.key
    else:
        key = version.document().key
    return {"id": version.pk, "policy": key, "effective_date": version.effective_date}


def attachment_out(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "internal": attachment.internal,
        "message_id": attachment.message_id,
        "created_at": iso(attachment.created_at),
        "download_url": reverse(
            "api:attachment_download",
            kwargs={"ticket_id": attachment.ticket_id, "attachment_id": attachment.pk},
        ),
    }


def message_out(message: Message, *, attachments: list[Attachment] | None = None) -> dict[str, Any]:
    """`attachments`: the message's, when in hand (else read from the prefetch)."""
    if attachments is None:
        attachments = list(message.attachments.all())
    author: dict[str, Any] | None = None
    if message.author_staff is not None:
        staff = message.author_staff
        author = {"kind": "staff", "id": staff.pk, "name": staff.display_name}
    elif message.author_contact is not None:
        contact = message.author_contact
        author = {"kind": "support_contact", "id": contact.pk, "name": contact.name}
    return {
        "id": message.pk,
        "kind": message.kind,
        "internal": not message.is_public,
        "author": author,
        "body": message.body,
        "body_format": message.body_format,
        "body_html": str(render_body(message.body, message.body_format)),
        "created_at": iso(message.created_at),
        "attachments": [attachment_out(a) for a in attachments],
    }
