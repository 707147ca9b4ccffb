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
   MailUnprocessable: the inbox quarantines the message for an admin. So does a contact of
   several organisations naming no ticket, an organisation with no subscription in force,
   and, when INBOUND_MAIL_AUTHSERV_ID is set, a contact's address our MX did not prove
   (no DMARC pass, no aligned DKIM or SPF pass): From is otherwise only a claim.
3. Mail whose From is not an active Support Contact is REFUSED: nothing is created and the
   sender gets at most one reply a day saying how to reach their organisation's contacts
   (none to no-reply addresses). An unknown address learns no names; a retired contact or a
   read-only organisation member is told more (see `_refuse`).
4. Threading: a signed reply+ address among the recipients, our Message-IDs
   (<sh-T@REPLY_DOMAIN>, <sh-T-N@REPLY_DOMAIN>) or an already ticketed mail's Message-ID in
   In-Reply-To/References, then SH-000123 in the subject. A reference is followed only when
   the sender is a participant of that ticket (`is_participant`): its requester, or a Support
   Contact of its organisation who has written on it. A forged header therefore never
   attaches mail to another person's ticket: the mail opens a new ticket instead, and a
   colleague of the same organisation is pointed to the Support Hub to add to the one named.
5. A reply to an open (or solved) ticket is ADDED as the contact's public reply, its quoted
   history removed (the stored raw mail keeps everything). A reply to a closed ticket opens a
   new ticket that records which closed ticket it follows up (closed tickets take no more
   messages, as in the Support Hub).
6. Otherwise a new ticket is OPENED at Severity 3 (or the policy's forced email severity),
   its clock started at the server's receipt time, and acknowledged by one mail threaded
   under the sender's message, with the due time and the Support Hub link for Severity 1/2.

Attachments over ATTACHMENT_MAX_BYTES or past ATTACHMENTS_PER_MESSAGE are left out with an
internal note on the ticket; the sender hears of it in the acknowledgement, or for a reply in
one automatic mail, never more than one automatic mail per sender per ticket per day.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses, parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.customers.models import Organisation, OrganisationMember, SupportContact
from supporthub.customers.selectors import (
    active_contacts_with_email,
    entitlement_on,
    entitlements_remembered,
    local_date,
)
from supporthub.intake.email.models import InboundMessage, Source
from supporthub.intake.email.outcome import Disposition, MailOutcome, MailUnprocessable
from supporthub.intake.email.parsing import (
    MailFile,
    ParsedMail,
    parse,
    strip_quoted_html,
    strip_quoted_text,
)
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.notify.services import (
    acknowledgement_facts,
    outbox_enqueue,
    portal_ticket_url,
    public_url,
    ticket_root_message_id,
)
from supporthub.notify.tokens import ReplyTokenInvalid, reply_address, reply_token_read
from supporthub.prepared import Prepared, insert
from supporthub.tickets import services as tickets
from supporthub.tickets.audit import audit, audit_entry
from supporthub.tickets.models import (
    AuditEntry,
    BodyFormat,
    Channel,
    Message,
    MessageKind,
    Status,
    Ticket,
)

DEFAULT_EMAIL_SEVERITY = 3
MAX_CANDIDATES = 20  # tickets looked at per message when threading
MAX_TICKET_ID = 2**63 - 1  # a larger number in a header is no ticket (and no SQL integer)
AUTOMATIC_KINDS = (OutboxKind.ACKNOWLEDGED, OutboxKind.MAIL_AUTO_REPLY)
# Addresses that say they read nothing: refused mail from them is kept but not answered.
NO_REPLY_LOCAL_PARTS = frozenset(
    {"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply"}
)
_REFERENCE = re.compile(r"\bSH-(\d{6,})\b", re.IGNORECASE)
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|tr|rv|antw|r)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_SEVERITY_ASKED = re.compile(
    r"\b(?:sev(?:erity)?\s*(?:level\s*)?[-_:#]?\s*([1-4])|p([1-4])|(urgent))\b",
    re.IGNORECASE,
)


_transaction_of_its_own: ContextVar[bool] = ContextVar("mail_transaction_of_its_own", default=False)


@contextmanager
def transaction_of_its_own() -> Iterator[None]:
    """Declare that mail_to_ticket runs in a transaction that is rolled back whole if it
    raises (the inbox's, which holds only it and the outcome's record): no savepoint then."""
    token = _transaction_of_its_own.set(True)
    try:
        yield
    finally:
        _transaction_of_its_own.reset(token)


def mail_to_ticket(*, inbound: InboundMessage) -> MailOutcome:
    """Turn a stored message into a ticket, a reply, or nothing (see the module docstring)."""
    mail = parse(bytes(inbound.raw))
    ignored = _machine_mail(inbound, mail)
    if ignored:
        return MailOutcome(Disposition.IGNORED, ignored)
    if mail.structure_problem:
        raise MailUnprocessable(mail.structure_problem)
    sender = _sender(mail)
    contacts = active_contacts_with_email(sender)
    unproven = _unproven_sender(mail, sender)
    if unproven and contacts:
        raise MailUnprocessable(unproven)
    # A savepoint: if anything below raises (MailUnprocessable included), none of it stays.
    # (None inside `transaction_of_its_own`: the whole transaction is rolled back then.)
    # The email severity and ticket_open read the same entitlement: one query, not two.
    savepoint = not _transaction_of_its_own.get()
    with transaction.atomic(savepoint=savepoint), entitlements_remembered():
        if not contacts:
            return _refuse(inbound, mail, sender, unproven=unproven)
        thread = _thread(inbound, mail, contacts)
        if thread.ticket is not None and thread.contact is not None:
            if thread.ticket.status != Status.CLOSED:
                return _add(inbound, mail, thread.ticket, thread.contact)
            return _open(inbound, mail, thread.contact, thread, follow_up_of=thread.ticket)
        return _open(inbound, mail, _only_contact(contacts, sender), thread)


# --- what is not a person's mail ---------------------------------------------------------


def _our_address() -> str:
    return parseaddr(settings.SUPPORT_FROM_EMAIL)[1].lower()


def _machine_mail(inbound: InboundMessage, mail: ParsedMail) -> str:
    """Why the message must be ignored (a loop, bounce or auto-reply), "" otherwise."""
    domain = settings.REPLY_DOMAIN.lower()
    if "x-supporthub-ticket" in mail.headers:
        return "Ignored: our own X-SupportHub-Ticket header came back (a mail loop)."
    if mail.message_id.lower().endswith(f"@{domain}>"):
        return f"Ignored: the Message-ID {mail.message_id} is one of ours (a mail loop)."
    for address in mail.from_addresses:
        if address == _our_address() or (
            address.endswith(f"@{domain}") and address.startswith("reply+")
        ):
            return f"Ignored: sent from our own address {address} (a mail loop)."
    envelope = inbound.envelope_sender.strip()
    if envelope == "<>" or (not envelope and inbound.source == Source.SMTP):
        return "Ignored: null envelope sender (a bounce or other delivery report)."
    if mail.automatic:
        return f"Ignored: automatic mail ({mail.automatic})."
    return ""


def _aligned(domain: str, other: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other."""
    other = other.rpartition("@")[2].strip(". ").lower()
    return bool(other) and (
        domain == other or domain.endswith("." + other) or other.endswith("." + domain)
    )


def _unproven_sender(mail: ParsedMail, sender: str) -> str:
    """Why the From address is not proven by our MX's checks; "" when it is, or checks are off.

    Only the topmost Authentication-Results stamped with INBOUND_MAIL_AUTHSERV_ID counts: our
    server adds its own above whatever the sender wrote, so a forged one below is ignored.
    """
    authserv_id = settings.INBOUND_MAIL_AUTHSERV_ID.lower()
    if not authserv_id:
        return ""
    domain = sender.rpartition("@")[2]
    ours = next((h for h in mail.auth_results if h.authserv_id == authserv_id), None)
    if ours is None:
        return f"The sender {sender} is not proven: no Authentication-Results from {authserv_id}."
    for r in ours.results:
        if r.result != "pass":
            continue
        if r.method == "dmarc" and _aligned(domain, r.properties.get("header.from", domain)):
            return ""
        if r.method == "dkim" and _aligned(
            domain, r.properties.get("header.d") or r.properties.get("header.i", "")
        ):
            return ""
        if r.method == "spf" and _aligned(domain, r.properties.get("smtp.mailfrom", "")):
            return ""
    said = ", ".join(f"{r.method}={r.result}" for r in ours.results)
    return (
        f"The sender {sender} is not proven: {authserv_id} found {said or 'no result'} "
        f"(no DMARC pass and no DKIM or SPF pass for {domain})."
    )


def _sender(mail: ParsedMail) -> str:
    if not mail.from_addresses:
        raw = mail.headers.get("from", "")
        shown = f" ({raw[:200]!r})" if raw else ""
        raise MailUnprocessable(f"No usable address in the From header{shown}.")
    if len(mail.from_addresses) > 1:
        raise MailUnprocessable(
            f"The From header names {len(mail.from_addresses)} addresses "
            f"({', '.join(mail.from_addresses)[:300]}); mail to ticket needs one sender."
        )
    return mail.from_addresses[0]


def _only_contact(contacts: list[SupportContact], sender: str) -> SupportContact:
    if len(contacts) == 1:
        return contacts[0]
    names = ", ".join(sorted(c.organisation.name for c in contacts))
    raise MailUnprocessable(
        f"{sender} is an active Support Contact of several organisations ({names}); the mail "
        "does not reply to one of their tickets, so it cannot say which organisation it is for."
    )


# --- threading ---------------------------------------------------------------------------


@dataclass
class _Thread:
    ticket: Ticket | None = None
    contact: SupportContact | None = None  # the sender, as a participant of `ticket`
    how: str = ""
    not_followed: list[str] = field(default_factory=list)  # for the admin's reason
    # Tickets of the sender's own organisation the mail named but may not add to by email:
    # the acknowledgement points to them (the sender can reply there in the Support Hub).
    own_organisation: list[Ticket] = field(default_factory=list)


@functools.cache
def _ticketed(count: int) -> Prepared[InboundMessage]:
    """Stored mail with a ticket among `count` distinct Message-IDs, other than the message
    being processed, oldest first (its Message-ID and ticket loaded): compiled once per count."""
    return Prepared(
        lambda pk, *message_ids: (
            InboundMessage.objects.filter(message_id__in=message_ids, ticket__isnull=False)
            .exclude(pk=pk)
            .order_by("received_at")
            .only("message_id", "ticket")
        ),
        markers=(-424242, *(f"\x00message-id {i}\x00" for i in range(count))),
    )


def _candidates(inbound: InboundMessage, mail: ParsedMail) -> list[tuple[int, str]]:
    """(ticket id, how it was found), strongest evidence first."""
    domain = settings.REPLY_DOMAIN.lower()
    found: list[tuple[int, str]] = []
    envelope = [addr.lower() for _, addr in getaddresses(list(inbound.envelope_recipients))]
    for address in (*envelope, *mail.recipients):
        local, _, at = address.partition("@")
        if at == domain and local.startswith("reply+"):
            try:
                ticket_id, _contact_id = reply_token_read(local.removeprefix("reply+"))
            except ReplyTokenInvalid:
                continue
            found.append((ticket_id, "reply address"))
    ours = re.compile(rf"^<sh-(\d+)(?:-\d+)?@{re.escape(domain)}>$", re.IGNORECASE)
    # In-Reply-To first, then References from the most recent back.
    referenced = list(dict.fromkeys((*mail.in_reply_to, *reversed(mail.references))))
    theirs: list[str] = []
    for message_id in referenced:
        match = ours.match(message_id)
        if match:
            found.append((int(match[1]), "our Message-ID in In-Reply-To/References"))
        else:
            theirs.append(message_id)
    if theirs:
        asked = theirs[:50]
        # Oldest first: of two stored copies with a ticket, the later one's ticket counts.
        ticketed = {
            row.message_id: row.ticket_id for row in _ticketed(len(asked))(inbound.pk, *asked)
        }
        for message_id in theirs:
            earlier = ticketed.get(message_id)
            if earlier is not None:
                found.append((earlier, "an earlier mail's Message-ID in In-Reply-To/References"))
    for match in _REFERENCE.finditer(mail.subject):
        found.append((int(match[1]), "the reference in the subject"))
    # One entry per ticket (its strongest evidence), ids a ticket can have, and no more than
    # MAX_CANDIDATES: a message naming hundreds of tickets is not a reply to all of them.
    first: dict[int, str] = {}
    for ticket_id, how in found:
        if 0 < ticket_id <= MAX_TICKET_ID:
            first.setdefault(ticket_id, how)
    return list(first.items())[:MAX_CANDIDATES]


def is_participant(ticket: Ticket, contact: SupportContact) -> bool:
    """The requester, or a Support Contact of the ticket's organisation who wrote on it."""
    if not contact.is_active or contact.organisation_id != ticket.organisation_id:
        return False
    if ticket.requester_id == contact.pk:
        return True
    return Message.objects.filter(ticket=ticket, author_contact=contact).exists()


@functools.cache
def _tickets_by_id(count: int) -> Prepared[Ticket]:
    """`Ticket.objects.select_related(...).in_bulk(ids)`'s query for `count` distinct ids,
    compiled once (one statement per count, MAX_CANDIDATES at most)."""
    return Prepared(
        lambda *ids: Ticket.objects.select_related(
            "organisation", "requester", "policy_version"
        ).filter(pk__in=ids),
        markers=range(-424242, -424242 - count, -1),
    )


def _thread(inbound: InboundMessage, mail: ParsedMail, contacts: list[SupportContact]) -> _Thread:
    candidates = _candidates(inbound, mail)
    if not candidates:
        return _Thread()
    ids = [ticket_id for ticket_id, _ in candidates]  # distinct (see _candidates)
    by_id = {ticket.pk: ticket for ticket in _tickets_by_id(len(ids))(*ids)}
    thread = _Thread()
    for ticket_id, how in candidates:
        ticket = by_id.get(ticket_id)
        if ticket is None:
            thread.not_followed.append(f"ticket #{ticket_id} (found by {how}) does not exist")
            continue
        contact = next((c for c in contacts if is_participant(ticket, c)), None)
        if contact is None:
            thread.not_followed.append(
                f"{ticket.reference} (found by {how}): the sender is not a participant"
            )
            if any(c.organisation_id == ticket.organisation_id for c in contacts):
                thread.own_organisation.append(ticket)
            continue
        thread.ticket, thread.contact, thread.how = ticket, contact, how
        return thread
    return thread


# --- replies -----------------------------------------------------------------------------


def _reply_body(mail: ParsedMail) -> tuple[str, BodyFormat]:
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
    message = tickets.ticket_add_message(
        ticket=ticket,
        kind=MessageKind.PUBLIC_REPLY,
        body=body,
        author_contact=contact,
        at=inbound.received_at,
        body_format=body_format,
    )
    _audit_received(ticket, inbound, mail, contact, message=message)
    left_out = _attach(inbound, ticket, contact, mail.files, message=message)
    reason = f"Added to {ticket.reference} as a reply from {contact.email}."
    if left_out:
        reason += f" {len(left_out)} attachment(s) left out."
        if _notify_left_out(inbound, mail, ticket, contact, left_out):
            reason += " The sender was told."
    return MailOutcome(Disposition.ADDED, reason, ticket.pk, message.pk)


# --- new tickets -------------------------------------------------------------------------


def _subject(mail: ParsedMail) -> str:
    subject = _REFERENCE.sub("", mail.subject).replace("[]", " ")
    subject = _REPLY_PREFIX.sub("", " ".join(subject.split())).strip(" -:")
    return (subject or "(no subject)")[:300]


def _email_severity(organisation: Organisation, received_at: datetime) -> int:
    """The policy's forced email severity, else Severity 3 (email never opens 1 or 2)."""
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
        return rule.forced_severity
    return DEFAULT_EMAIL_SEVERITY


def _severity_asked(subject: str) -> int | None:
    match = _SEVERITY_ASKED.search(subject)
    if match is None:
        return None
    if match[3]:
        return 1
    return int(match[1] or match[2])


def _open(
    inbound: InboundMessage,
    mail: ParsedMail,
    contact: SupportContact,
    thread: _Thread,
    *,
    follow_up_of: Ticket | None = None,
) -> MailOutcome:
    organisation = contact.organisation
    severity = _email_severity(organisation, inbound.received_at)
    if mail.text.strip():
        body, body_format = mail.text, BodyFormat.TEXT
    else:
        body, body_format = mail.html, BodyFormat.HTML if mail.html.strip() else BodyFormat.TEXT
    opened: list[AuditEntry] = []  # written below, in the same INSERT as the entries after
    try:
        ticket = tickets.ticket_open(
            organisation=organisation,
            requester=contact,
            subject=_subject(mail),
            body=body,
            severity=severity,
            channel=Channel.EMAIL,
            received_at=inbound.received_at,
            actor=contact.user,
            body_format=body_format,
            acknowledge=False,
            audit_into=opened,
        )
    except ValidationError as exc:
        raise MailUnprocessable(
            f"Could not open a ticket for {contact.email}: {' '.join(exc.messages)}"
        ) from exc
    named = [t for t in thread.own_organisation if t.organisation_id == organisation.pk]
    # These audit entries are written in one INSERT with the acknowledgement's (in this order),
    # or before the attachments when there are any (they write entries of their own).
    entries = [
        *opened,
        _received_entry(ticket, inbound, mail, contact, message=None, named=named),
    ]
    asked = _severity_asked(mail.subject)
    if asked is not None and asked < ticket.severity:
        entries.append(
            audit_entry(
                ticket=ticket,
                code="mail.severity_requested",
                at=inbound.received_at,
                requested=asked,
                severity=ticket.severity,
            )
        )
    if follow_up_of is not None:
        entries.append(
            audit_entry(
                ticket=ticket,
                code="mail.follow_up_of_closed",
                at=inbound.received_at,
                closed_ticket=follow_up_of.pk,
                reference=follow_up_of.reference,
            )
        )
        entries.append(
            audit_entry(
                ticket=follow_up_of,
                code="mail.followed_up_in",
                at=inbound.received_at,
                ticket_id=ticket.pk,
                reference=ticket.reference,
            )
        )
    if mail.files:
        insert(entries)
        entries = []
    left_out = _attach(inbound, ticket, contact, mail.files, message=None)
    _acknowledge(
        inbound,
        mail,
        ticket,
        contact,
        asked=asked,
        follow_up_of=follow_up_of,
        left_out=left_out,
        not_added_to=named,
        audited_before=entries,
    )
    reason = f"Opened {ticket.reference} for {contact.email} at Severity {ticket.severity}."
    if follow_up_of is not None:
        reason += f" It follows up {follow_up_of.reference}, which is closed."
    if thread.not_followed:
        reason += " Not followed: " + "; ".join(thread.not_followed) + "."
    if left_out:
        reason += f" {len(left_out)} attachment(s) left out."
    return MailOutcome(Disposition.OPENED, reason[:2000], ticket.pk, None)


def _audit_received(
    ticket: Ticket,
    inbound: InboundMessage,
    mail: ParsedMail,
    contact: SupportContact,
    *,
    message: Message | None,
    named: list[Ticket] | None = None,
) -> None:
    insert([_received_entry(ticket, inbound, mail, contact, message=message, named=named)])


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
            size, most = tickets.megabytes(file.size), tickets.megabytes(limit)
            left_out.append(f"{file.filename} ({size}; the limit is {most})")
        elif kept >= per_message:
            left_out.append(f"{file.filename} (more than {per_message} files in one message)")
        else:
            upload = SimpleUploadedFile(file.filename, file.content, file.content_type)
            tickets.attachment_add(ticket=ticket, upload=upload, viewer=viewer, message=message)
            kept += 1
    if left_out:
        tickets.ticket_add_message(
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


# --- automatic replies -------------------------------------------------------------------


def _thread_headers(mail: ParsedMail, root: str | None = None) -> dict[str, str]:
    """Threads our reply under their message (and, for a ticket, under its root)."""
    headers: dict[str, str] = {}
    references = list(mail.references)
    if mail.message_id:
        headers["In-Reply-To"] = mail.message_id
        references.append(mail.message_id)
    if root is not None:
        references.append(root)
    if references:
        # A long chain keeps its first and last ids (RFC 5322 3.6.4 allows trimming).
        chain = list(dict.fromkeys(references))
        if len(chain) > 10:
            chain = chain[:1] + chain[-9:]
        headers["References"] = " ".join(chain)
    return headers


def _acknowledge(
    inbound: InboundMessage,
    mail: ParsedMail,
    ticket: Ticket,
    contact: SupportContact,
    *,
    asked: int | None,
    follow_up_of: Ticket | None,
    left_out: list[str],
    not_added_to: list[Ticket],
    audited_before: list[AuditEntry],
) -> None:
    """The ticket's one acknowledgement: reference, due time, and where Severity 1/2 go;
    `audited_before`: entries not written yet, written first, in the same INSERT."""
    context: dict[str, Any] = {
        **acknowledgement_facts(ticket, contact),
        "contact": contact,
        "ticket": ticket,
        "reference": ticket.reference,
        "url": portal_ticket_url(ticket),
        "new_url": public_url("portal:new"),
        "asked": asked if asked is not None and asked < ticket.severity else None,
        "follow_up_of": follow_up_of.reference if follow_up_of is not None else "",
        "left_out": left_out,
        "limit": tickets.megabytes(settings.ATTACHMENT_MAX_BYTES),
        "not_added_to": [
            {"reference": t.reference, "url": portal_ticket_url(t)} for t in not_added_to
        ],
    }
    headers = _thread_headers(mail, root=ticket_root_message_id(ticket))
    headers["Reply-To"] = reply_address(ticket, contact)
    outbox_enqueue(
        kind=OutboxKind.ACKNOWLEDGED,
        dedupe_key=f"{OutboxKind.ACKNOWLEDGED}:ticket:{ticket.pk}",
        recipient=contact.email,
        subject=f"[{ticket.reference}] {ticket.subject}",
        template="intake_email/acknowledged",
        context=context,
        ticket=ticket,
        headers=headers,
    )
    acknowledged = audit_entry(
        ticket=ticket,
        code="mail.acknowledged",
        at=inbound.received_at,
        recipient=contact.email,
        severity=ticket.severity,
    )
    insert([*audited_before, acknowledged])


def _auto_replied_recently(ticket: Ticket, recipient: str) -> bool:
    """Whether this ticket sent `recipient` an automatic mail in the last 24 hours."""
    return OutboxMessage.objects.filter(
        ticket=ticket,
        recipient__iexact=recipient,
        kind__in=AUTOMATIC_KINDS,
        created_at__gt=timezone.now() - timedelta(days=1),
    ).exists()


def _notify_left_out(
    inbound: InboundMessage,
    mail: ParsedMail,
    ticket: Ticket,
    contact: SupportContact,
    left_out: list[str],
) -> bool:
    """Tell the contact which files did not reach the ticket, unless this ticket already sent
    them an automatic mail today (at most one per sender per ticket per day)."""
    if _auto_replied_recently(ticket, contact.email):
        return False
    day = inbound.received_at.astimezone(UTC).date().isoformat()
    headers = _thread_headers(mail, root=ticket_root_message_id(ticket))
    headers["Reply-To"] = reply_address(ticket, contact)
    outbox_enqueue(
        kind=OutboxKind.MAIL_AUTO_REPLY,
        dedupe_key=_daily_key(f"ticket:{ticket.pk}", contact.email.lower(), day),
        recipient=contact.email,
        subject=f"[{ticket.reference}] {ticket.subject}",
        template="intake_email/attachments_left_out",
        context={
            "contact": contact,
            "reference": ticket.reference,
            "left_out": left_out,
            "limit": tickets.megabytes(settings.ATTACHMENT_MAX_BYTES),
            "per_message": settings.ATTACHMENTS_PER_MESSAGE,
            "url": portal_ticket_url(ticket),
        },
        ticket=ticket,
        headers=headers,
    )
    return True


def _daily_key(purpose: str, sender: str, day: str) -> str:
    key = f"{OutboxKind.MAIL_AUTO_REPLY}:{purpose}:{day}:{sender}"
    if len(key) <= 120:
        return key
    digest = hashlib.sha256(sender.encode()).hexdigest()[:40]
    return f"{OutboxKind.MAIL_AUTO_REPLY}:{purpose}:{day}:sha256:{digest}"


def _refuse(
    inbound: InboundMessage, mail: ParsedMail, sender: str, *, unproven: str = ""
) -> MailOutcome:
    """Not a Support Contact: keep the mail, create nothing, say (once a day) how to get help.

    An unknown address learns nothing about our customers. A retired contact, or someone
    with a read-only Support Hub login (an OrganisationMember), is told which organisation
    they belong to and, for a member, the names of its Support Contacts (their colleagues).
    """
    retired = (
        SupportContact.objects.filter(email__iexact=sender, is_active=False)
        .select_related("organisation")
        .first()
    )
    member = (
        OrganisationMember.objects.filter(user__email__iexact=sender)
        .select_related("organisation")
        .first()
    )
    organisation = (
        retired.organisation if retired is not None else member.organisation if member else None
    )
    colleagues: list[str] = []
    if member is not None:
        colleagues = list(
            SupportContact.objects.filter(organisation=member.organisation, is_active=True)
            .order_by("name")
            .values_list("name", flat=True)
        )
    who = "a retired Support Contact" if retired is not None else "not a Support Contact"
    if member is not None and retired is None:
        who = "a read-only member, not a Support Contact"
    if sender.split("@", 1)[0] in NO_REPLY_LOCAL_PARTS:
        return MailOutcome(
            Disposition.REFUSED,
            f"Refused: {sender} is {who}; not answered (a no-reply address).",
        )
    if unproven:
        # The From may be forged: an answer would go to someone who never wrote.
        return MailOutcome(Disposition.REFUSED, f"Refused: not answered. {unproven}")
    day = inbound.received_at.astimezone(UTC).date().isoformat()
    subject = mail.subject or "your email"
    outbox_enqueue(
        kind=OutboxKind.MAIL_AUTO_REPLY,
        dedupe_key=_daily_key("refused", sender, day),
        recipient=sender,
        subject=f"Re: {_REPLY_PREFIX.sub('', subject)}",
        template="intake_email/refused",
        context={
            "name": mail.from_name,
            "subject": subject,
            "organisation": organisation.name if organisation is not None else "",
            "retired": retired is not None,
            "member": member is not None,
            "colleagues": colleagues,
            "hub_url": public_url("portal:tickets"),
        },
        headers=_thread_headers(mail),
    )
    return MailOutcome(
        Disposition.REFUSED,
        f"Refused: {sender} is {who}; told (at most once a day) how to reach their "
        "organisation's Support Contacts.",
    )
