"""Mail to ticket: a stored inbound message becomes a new ticket, a reply, or nothing.

Called by the inbox inside the transaction that records the outcome on the stored row; this
module reads the row and never writes it. In order:

1. Machine mail is IGNORED, nothing created and nobody answered: our own mail coming back
   (X-SupportHub-Ticket, a Message-ID of REPLY_DOMAIN, From SUPPORT_FROM_EMAIL or a reply+
   address), bounces (a null envelope sender `<>`, or an empty one on the SMTP listener,
   whose envelope we saw; RFC 3464 delivery-status reports; Return-Path `<>`; mailer
   daemons), read receipts and auto-replies (Auto-Submitted other than "no",
   X-Auto-Response-Suppress, Precedence bulk/list/junk, X-Autoreply/X-Autorespond).
2. A MIME structure that cannot be read, or no single usable From address, raises
   MailUnprocessable: the inbox quarantines the message for an admin. (A multipart whose
   boundary is missing or never appears goes on: its text is the body as received, the
   message itself attached, and the admin's reason says so.) So does a contact of
   several organisations naming no ticket, an organisation with no subscription in force,
   and, when INBOUND_MAIL_AUTHSERV_ID is set, a contact's address our MX did not prove
   (no DMARC pass, no aligned DKIM or SPF pass): From is otherwise only a claim.
3. Mail whose From is not an active Support Contact is REFUSED: nothing is created and the
   sender gets at most one reply a day saying how to reach their organisation's contacts
   (none to no-reply addresses). An unknown address learns no names; a retired contact or a
   read-only organisation member is told more (see `filters.refuse`).
4. Threading: a signed reply+ address among the recipients, our Message-IDs
   (<sh-T@REPLY_DOMAIN>, <sh-T-N@REPLY_DOMAIN>) or an already ticketed mail's Message-ID in
   In-Reply-To/References, then SH-000123 in the subject. A reference is followed only when
   the sender is a participant of that ticket (`threads.is_participant`): its requester, or a
   Support Contact of its organisation who has written on it. A forged header therefore never
   attaches mail to another person's ticket: the mail opens a new ticket instead, and a
   colleague of the same organisation is pointed to the Support Hub to add to the one named.
5. A reply to an open (or solved) ticket is ADDED as the contact's public reply, its quoted
   history removed (the stored raw mail keeps everything). A reply to a closed ticket opens a
   new ticket that records which closed ticket it follows up (closed tickets take no more
   messages, as in the Support Hub).
6. Otherwise a new ticket is OPENED at Severity 3 (or the policy's forced email severity),
   its clock started at the server's receipt time, and acknowledged by one mail threaded
   under the sender's message, with the due time and the Support Hub link for Severity 1/2.

The body is the mail's text, else its HTML; where a text/html part stands beside the text
as content of its own (multipart/mixed, not /alternative) the body is HTML holding both in
order, the text escaped and the HTML sanitised, as the Support Hub shows each alone.

Attachments over ATTACHMENT_MAX_BYTES or past ATTACHMENTS_PER_MESSAGE are left out with an
internal note on the ticket; the sender hears of it in the acknowledgement, or for a reply in
one automatic mail, never more than one automatic mail per sender per ticket per day.

What is ignored or refused (1-3) is in `filters`, threading (4) in `threads`; the automatic
replies are written by `supporthub.notify.replies`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from supporthub.access import Viewer
from supporthub.customers.models import Organisation, SupportContact
from supporthub.customers.selectors import (
    Entitlement,
    active_contacts_with_email,
    entitlement_on,
    local_date,
)
from supporthub.intake.email.filters import (
    answered,
    machine_mail,
    only_contact,
    refuse,
    sender_of,
    unproven_sender,
)
from supporthub.intake.email.models import InboundMessage
from supporthub.intake.email.outcome import Disposition, MailOutcome, MailUnprocessable
from supporthub.intake.email.parsing import (
    MailFile,
    ParsedMail,
    parse,
    strip_quoted_html,
    strip_quoted_text,
    without_reply_prefixes,
)
from supporthub.intake.email.threads import REFERENCE, Thread, thread_find
from supporthub.notify.replies import (
    mail_acknowledgement_enqueue,
    mail_attachments_left_out_enqueue,
)
from supporthub.tickets import conversation
from supporthub.tickets.audit import audit, audit_entry, audit_many
from supporthub.tickets.models import (
    AuditEntry,
    BodyFormat,
    Channel,
    Message,
    MessageKind,
    Status,
    Ticket,
)
from supporthub.tickets.opening import TicketRequest, ticket_open
from supporthub.tickets.rendering import render_body

DEFAULT_EMAIL_SEVERITY = 3
_SEVERITY_ASKED = re.compile(
    r"\b(?:sev(?:erity)?\s*(?:level\s*)?[-_:#]?\s*([1-4])|p([1-4])|(urgent))\b",
    re.IGNORECASE,
)

# A no-op now (mail_to_ticket never takes a savepoint inside a caller's transaction), kept for


@dataclass(frozen=True)
class _Opening:
    """A new ticket to open: for whom, under what, at which severity (all read before the
    first write), and the closed ticket it follows up, if any."""

    contact: SupportContact
    entitlement: Entitlement
    severity: int
    follow_up_of: Ticket | None = None


def mail_to_ticket(*, inbound: InboundMessage) -> MailOutcome:
    """Turn a stored message into a ticket, a reply, or nothing (see the module docstring).

    What refuses the mail (MailUnprocessable) is decided before the first write, ticket_open's
    own refusals included. The writes are one transaction; inside a caller's (the inbox's,
    which records the outcome in it) they take no savepoint: whatever raises in them leaves
    that transaction to be rolled back whole, as the inbox does, so nothing of the message
    stays.
    """
    mail = parse(bytes(inbound.raw))
    ignored = machine_mail(inbound, mail)
    if ignored:
        return MailOutcome(Disposition.IGNORED, ignored)
    if mail.structure_problem and not mail.read_as_text:
        raise MailUnprocessable(mail.structure_problem)
    sender = sender_of(mail)
    contacts = active_contacts_with_email(sender)
    unproven = unproven_sender(mail, sender, raw=bytes(inbound.raw))
    if unproven and contacts:
        raise MailUnprocessable(unproven)
    if not contacts:
        with transaction.atomic(savepoint=False):
            return refuse(inbound, mail, sender, unproven=unproven)
    thread = thread_find(inbound, mail, contacts)
    if thread.ticket is not None and thread.contact is not None:
        if thread.ticket.status != Status.CLOSED:
            with transaction.atomic(savepoint=False):
                return _add(inbound, mail, thread.ticket, thread.contact)
        contact, follow_up_of = thread.contact, thread.ticket
    else:
        contact, follow_up_of = only_contact(contacts, sender), None
    # ticket_open is given the entitlement the email severity was read under: one query.
    entitlement, severity = _email_severity(contact.organisation, inbound.received_at)
    opening = _Opening(contact, entitlement, severity, follow_up_of)
    with transaction.atomic(savepoint=False):
        return _open(inbound, mail, thread, opening)


# --- replies -----------------------------------------------------------------------------


def _sections_body(mail: ParsedMail, *, reply: bool) -> str:
    """Text and HTML content side by side (see parsing._sections), each section shown as it
    would be alone (text escaped, HTML sanitised: one section's broken markup cannot reach
    into the next), a rule between them."""
    shown = []
    for kind, content in mail.sections:
        strip, body_format = (
            (strip_quoted_text, BodyFormat.TEXT)
            if kind == "text"
            else (strip_quoted_html, BodyFormat.HTML)
        )
        shown.append(render_body(strip(content) if reply else content, body_format))
    return "\n<hr>\n".join(shown)


def _reply_body(mail: ParsedMail) -> tuple[str, BodyFormat]:
    if mail.sections:
        return _sections_body(mail, reply=True), BodyFormat.HTML
    if mail.text.strip():
        return strip_quoted_text(mail.text), BodyFormat.TEXT
    if mail.html.strip():
        return strip_quoted_html(mail.html), BodyFormat.HTML
    names = ", ".join(f.filename for f in mail.files)
    return (f"(No text; attached: {names})" if names else "(No text.)"), BodyFormat.TEXT


def _add(
    inbound: InboundMessage, mail: ParsedMail, ticket: Ticket, contact: SupportContact
) -> MailOutcome:
    body, body_format = _reply_body(mail)
    message = conversation.ticket_add_message(
        ticket=ticket,
        kind=MessageKind.PUBLIC_REPLY,
        body=body,
        author_contact=contact,
        at=inbound.received_at,
        body_format=body_format,
    )
    audit_many([_received_entry(ticket, inbound, mail, contact, message=message)])
    left_out = _attach(inbound, ticket, contact, mail.files, message=message)
    reason = f"Added to {ticket.reference} as a reply from {contact.email}."
    if mail.read_as_text:
        reason += f" {mail.structure_problem} Its text is shown as received."
    if left_out:
        reason += f" {len(left_out)} attachment(s) left out."
        told = mail_attachments_left_out_enqueue(
            answered=answered(mail),
            ticket=ticket,
            contact=contact,
            day=inbound.received_at.astimezone(UTC).date().isoformat(),
            left_out=left_out,
            limit=conversation.megabytes(settings.ATTACHMENT_MAX_BYTES),
            per_message=settings.ATTACHMENTS_PER_MESSAGE,
        )
        if told:
            reason += " The sender was told."
    return MailOutcome(Disposition.ADDED, reason, ticket.pk, message.pk)


# --- new tickets -------------------------------------------------------------------------


def _subject(mail: ParsedMail) -> str:
    subject = REFERENCE.sub("", mail.subject).replace("[]", " ")
    subject = without_reply_prefixes(" ".join(subject.split())).strip(" -:")
    return (subject or "(no subject)")[:300]


def _email_severity(organisation: Organisation, received_at: datetime) -> tuple[Entitlement, int]:
    """The entitlement in force at receipt and the policy's forced email severity under it,
    else Severity 3 (email never opens 1 or 2)."""
    day = local_date(organisation, received_at)
    try:
        entitlement = entitlement_on(organisation=organisation, on=day)
    except ObjectDoesNotExist as exc:  # PolicyNotInForce
        raise MailUnprocessable(
            f"{organisation.name}'s policy is not in force on {day.isoformat()}: {exc}"
        ) from exc
    if entitlement is None:
        raise MailUnprocessable(
            f"{organisation.name} has no subscription in force on {day.isoformat()}, so the mail "
            "cannot open a ticket; add the subscription, then reprocess the message."
        )
    rule = entitlement.policy.channels.get(Channel.EMAIL)
    if rule is not None and rule.forced_severity is not None:
        return entitlement, rule.forced_severity
    return entitlement, DEFAULT_EMAIL_SEVERITY


def _severity_asked(subject: str) -> int | None:
    match = _SEVERITY_ASKED.search(subject)
    if match is None:
        return None
    if match[3]:
        return 1
    return int(match[1] or match[2])


def _open(
    inbound: InboundMessage, mail: ParsedMail, thread: Thread, opening: _Opening
) -> MailOutcome:
    contact, follow_up_of = opening.contact, opening.follow_up_of
    organisation = contact.organisation
    if mail.sections:
        body, body_format = _sections_body(mail, reply=False), BodyFormat.HTML
    elif mail.text.strip():
        body, body_format = mail.text, BodyFormat.TEXT
    else:
        body, body_format = mail.html, BodyFormat.HTML if mail.html.strip() else BodyFormat.TEXT
    try:
        ticket = ticket_open(
            request=TicketRequest(
                organisation=organisation,
                requester=contact,
                subject=_subject(mail),
                body=body,
                body_format=body_format,
                severity=opening.severity,
                channel=Channel.EMAIL,
                received_at=inbound.received_at,
            ),
            actor=contact.user,
            entitlement=opening.entitlement,
            acknowledge=False,  # the acknowledgement below, threaded under their mail
        )
    except ValidationError as exc:
        raise MailUnprocessable(
            f"Could not open a ticket for {contact.email}: {' '.join(exc.messages)}"
        ) from exc
    named = [t for t in thread.own_organisation if t.organisation_id == organisation.pk]
    # ticket_open recorded the opening; what the mail adds follows it, in this order, in one
    # INSERT with the acknowledgement's entry (or before the attachments when there are any:
    # they write entries of their own).
    at = inbound.received_at
    entries = [_received_entry(ticket, inbound, mail, contact, message=None, named=named)]
    asked = _severity_asked(mail.subject)
    if asked is not None and asked < ticket.severity:
        entries.append(
            audit_entry(
                ticket=ticket,
                code="mail.severity_requested",
                at=at,
                requested=asked,
                severity=ticket.severity,
            )
        )
    if follow_up_of is not None:
        entries.append(
            audit_entry(
                ticket=ticket,
                code="mail.follow_up_of_closed",
                at=at,
                closed_ticket=follow_up_of.pk,
                reference=follow_up_of.reference,
            )
        )
        entries.append(
            audit_entry(
                ticket=follow_up_of,
                code="mail.followed_up_in",
                at=at,
                ticket_id=ticket.pk,
                reference=ticket.reference,
            )
        )
    if mail.files:
        audit_many(entries)
        entries = []
    left_out = _attach(inbound, ticket, contact, mail.files, message=None)
    # The ticket's one acknowledgement: reference, due time, and where Severity 1/2 go.
    mail_acknowledgement_enqueue(
        answered=answered(mail),
        ticket=ticket,
        contact=contact,
        asked=asked,
        follow_up_of=follow_up_of,
        left_out=left_out,
        limit=conversation.megabytes(settings.ATTACHMENT_MAX_BYTES),
        not_added_to=named,
    )
    entries.append(
        audit_entry(
            ticket=ticket,
            code="mail.acknowledged",
            at=at,
            recipient=contact.email,
            severity=ticket.severity,
        )
    )
    audit_many(entries)
    reason = f"Opened {ticket.reference} for {contact.email} at Severity {ticket.severity}."
    if follow_up_of is not None:
        reason += f" It follows up {follow_up_of.reference}, which is closed."
    if mail.read_as_text:
        reason += f" {mail.structure_problem} Its text is shown as received."
    if thread.not_followed:
        reason += " Not followed: " + "; ".join(thread.not_followed) + "."
    if left_out:
        reason += f" {len(left_out)} attachment(s) left out."
    return MailOutcome(Disposition.OPENED, reason[:2000], ticket.pk, None)


def _received_entry(
    ticket: Ticket,
    inbound: InboundMessage,
    mail: ParsedMail,
    contact: SupportContact,
    *,
    message: Message | None,
    named: list[Ticket] | None = None,
) -> AuditEntry:
    """What arrived, from whom, which stored mail holds it, and what was repaired on the way;
    `named`: tickets of the same organisation the mail referred to but could not join."""
    return audit_entry(
        ticket=ticket,
        code="mail.received",
        actor=contact.user,
        at=inbound.received_at,
        inbound=inbound.pk,
        message_id=mail.message_id,
        sender=contact.email,
        message=message.pk if message is not None else None,
        notes=list(mail.notes),
        named_tickets=[t.reference for t in named or []],
    )


# --- attachments -------------------------------------------------------------------------


def _attach(
    inbound: InboundMessage,
    ticket: Ticket,
    contact: SupportContact,
    files: tuple[MailFile, ...],
    *,
    message: Message | None,
) -> list[str]:
    """Store the files within the limits; returns what was left out (noted on the ticket)."""
    limit = settings.ATTACHMENT_MAX_BYTES
    per_message = settings.ATTACHMENTS_PER_MESSAGE
    viewer = Viewer(user=contact.user, contact=contact, organisation=contact.organisation)
    left_out: list[str] = []
    kept = 0
    for file in files:
        if file.size > limit:
            size, most = conversation.megabytes(file.size), conversation.megabytes(limit)
            left_out.append(f"{file.filename} ({size}; the limit is {most})")
        elif kept >= per_message:
            left_out.append(f"{file.filename} (more than {per_message} files in one message)")
        else:
            upload = SimpleUploadedFile(file.filename, file.content, file.content_type)
            conversation.attachment_add(
                ticket=ticket, upload=upload, viewer=viewer, message=message
            )
            kept += 1
    if left_out:
        conversation.ticket_add_message(
            ticket=ticket,
            kind=MessageKind.INTERNAL_NOTE,
            body=(
                f"Attachments left out of the email from {contact.email} (inbound message "
                f"#{inbound.pk}); the stored mail still holds them:\n- " + "\n- ".join(left_out)
            ),
            at=inbound.received_at,
        )
        audit(
            ticket=ticket,
            code="mail.attachments_left_out",
            at=inbound.received_at,
            inbound=inbound.pk,
            files=left_out,
        )
    return left_out
