"""Automatic replies to inbound mail: the acknowledgement of a ticket opened by email, the
refusal of mail that may not open one, and the notice of attachments left out of a reply.

Mail intake decides who is answered and with what facts; this module writes the answer to
the outbox (through `outbox_enqueue`, in the caller's transaction), threaded under the
sender's message. The acknowledgement is notify's one `ticket_acknowledged` template, the
same the Support Hub and the API send for their tickets, with what only mail says
(`by_email` and the keys after it) added to its context.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from supporthub.customers.models import SupportContact
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.notify.services import (
    acknowledgement_facts,
    outbox_enqueue,
    portal_ticket_url,
    public_url,
    ticket_root_message_id,
)
from supporthub.notify.tokens import reply_address
from supporthub.tickets.models import Ticket

AUTOMATIC_KINDS = (OutboxKind.ACKNOWLEDGED, OutboxKind.MAIL_AUTO_REPLY)
MAX_REFERENCES = 10  # Message-IDs kept in a reply's References header


@dataclass(frozen=True)
class Answered:
    """The message answered: its Message-ID ("" when it had none) and its References."""

    message_id: str
    references: Sequence[str] = ()


def thread_headers(answered: Answered, root: str | None = None) -> dict[str, str]:
    """Threads our reply under their message (and, for a ticket, under its root)."""
    headers: dict[str, str] = {}
    references = list(answered.references)
    if answered.message_id:
        headers["In-Reply-To"] = answered.message_id
        references.append(answered.message_id)
    if root is not None:
        references.append(root)
    if references:
        # A long chain keeps its first and last ids (RFC 5322 3.6.4 allows trimming).
        chain = list(dict.fromkeys(references))
        if len(chain) > MAX_REFERENCES:
            chain = chain[:1] + chain[1 - MAX_REFERENCES :]
        headers["References"] = " ".join(chain)
    return headers


def _ticket_headers(answered: Answered, ticket: Ticket, contact: SupportContact) -> dict[str, str]:
    headers = thread_headers(answered, root=ticket_root_message_id(ticket))
    headers["Reply-To"] = reply_address(ticket, contact)
    return headers


def mail_acknowledgement_enqueue(
    *,
    answered: Answered,
    ticket: Ticket,
    contact: SupportContact,
    asked: int | None,
    follow_up_of: Ticket | None,
    left_out: Sequence[str],
    limit: str,
    not_added_to: Sequence[Ticket],
) -> None:
    """The one acknowledgement of a ticket opened by email: reference, due time and where
    Severity 1/2 go, with what the mail asked for (`asked`, a severity above the one given),
    which closed ticket it follows up, the attachments left out (`limit`: the size limit as
    people read it) and the tickets it named but could not add to."""
    context = {
        **acknowledgement_facts(ticket, contact),
        "contact": contact,
        "ticket": ticket,
        "reference": ticket.reference,
        "url": portal_ticket_url(ticket),
        "by_email": True,
        "new_url": public_url("portal:new"),
        "asked": asked if asked is not None and asked < ticket.severity else None,
        "follow_up_of": follow_up_of.reference if follow_up_of is not None else "",
        "left_out": list(left_out),
        "limit": limit,
        "not_added_to": [
            {"reference": t.reference, "url": portal_ticket_url(t)} for t in not_added_to
        ],
    }
    outbox_enqueue(
        kind=OutboxKind.ACKNOWLEDGED,
        dedupe_key=f"{OutboxKind.ACKNOWLEDGED}:ticket:{ticket.pk}",
        recipient=contact.email,
        subject=f"[{ticket.reference}] {ticket.subject}",
        template="notify/ticket_acknowledged",
        context=context,
        ticket=ticket,
        headers=_ticket_headers(answered, ticket, contact),
    )


def auto_replied_recently(ticket: Ticket, recipient: str) -> bool:
    """Whether this ticket sent `recipient` an automatic mail in the last 24 hours."""
    return OutboxMessage.objects.filter(
        ticket=ticket,
        recipient__iexact=recipient,
        kind__in=AUTOMATIC_KINDS,
        created_at__gt=timezone.now() - timedelta(days=1),
    ).exists()


def daily_key(purpose: str, sender: str, day: str) -> str:
    """The dedupe key of one automatic reply a day to `sender` for `purpose` (`day`: ISO);
    a sender too long for the key is named by its digest."""
    key = f"{OutboxKind.MAIL_AUTO_REPLY}:{purpose}:{day}:{sender}"
    if len(key) <= 120:
        return key
    digest = hashlib.sha256(sender.encode()).hexdigest()[:40]
    return f"{OutboxKind.MAIL_AUTO_REPLY}:{purpose}:{day}:sha256:{digest}"


def mail_attachments_left_out_enqueue(
    *,
    answered: Answered,
    ticket: Ticket,
    contact: SupportContact,
    day: str,
    left_out: Sequence[str],
    limit: str,
    per_message: int,
) -> bool:
    """Tell the contact which files of their reply did not reach the ticket, unless this
    ticket already sent them an automatic mail today (at most one per sender per ticket per
    day); whether it was told. `day`: the UTC day the mail was received, ISO."""
    if auto_replied_recently(ticket, contact.email):
        return False
    outbox_enqueue(
        kind=OutboxKind.MAIL_AUTO_REPLY,
        dedupe_key=daily_key(f"ticket:{ticket.pk}", contact.email.lower(), day),
        recipient=contact.email,
        subject=f"[{ticket.reference}] {ticket.subject}",
        template="notify/mail_attachments_left_out",
        context={
            "contact": contact,
            "reference": ticket.reference,
            "left_out": list(left_out),
            "limit": limit,
            "per_message": per_message,
            "url": portal_ticket_url(ticket),
        },
        ticket=ticket,
        headers=_ticket_headers(answered, ticket, contact),
    )
    return True


def mail_refusal_enqueue(
    *,
    answered: Answered,
    recipient: str,
    day: str,
    reply_subject: str,
    name: str,
    subject: str,
    organisation: str,
    retired: bool,
    member: bool,
    colleagues: Sequence[str],
) -> None:
    """Tell someone who may not open tickets by email how to get help, once a day (`day`:
    the UTC day the mail was received, ISO). `organisation` and `colleagues` are named only
    to a retired Support Contact or a read-only member; an unknown address learns nothing."""
    outbox_enqueue(
        kind=OutboxKind.MAIL_AUTO_REPLY,
        dedupe_key=daily_key("refused", recipient, day),
        recipient=recipient,
        subject=reply_subject,
        template="notify/mail_refused",
        context={
            "name": name,
            "subject": subject,
            "organisation": organisation,
            "retired": retired,
            "member": member,
            "colleagues": list(colleagues),
            "hub_url": public_url("portal:tickets"),
        },
        headers=thread_headers(answered),
    )
