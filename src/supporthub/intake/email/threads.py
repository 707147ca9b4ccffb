"""Threading: which existing ticket an inbound message continues, if any.

The evidence, strongest first: a signed reply+ address among the recipients, our Message-IDs
(<sh-T@REPLY_DOMAIN>, <sh-T-N@REPLY_DOMAIN>) or an already ticketed mail's Message-ID in
In-Reply-To/References, then SH-000123 in the subject. A ticket found is followed only when
the sender is one of its participants (`is_participant`), so a forged header never attaches
mail to another person's ticket. Reads only; mail to ticket (`ticketing`) acts on the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import getaddresses

from django.conf import settings

from supporthub.customers.models import SupportContact
from supporthub.intake.email.models import InboundMessage
from supporthub.intake.email.parsing import ParsedMail
from supporthub.notify.tokens import ReplyTokenInvalid, reply_token_read
from supporthub.tickets.models import Message, Ticket

MAX_CANDIDATES = 20  # tickets looked at per message when threading
MAX_TICKET_ID = 2**63 - 1  # a larger number in a header is no ticket (and no SQL integer)
MAX_MESSAGE_IDS = 50  # of their Message-IDs, looked up among the stored mail
REFERENCE = re.compile(r"\bSH-(\d{6,})\b", re.IGNORECASE)


@dataclass
class Thread:
    """What threading found: the ticket the mail continues and the sender as one of its
    participants (both None: a new ticket), and what was found but not followed."""

    ticket: Ticket | None = None
    contact: SupportContact | None = None  # the sender, as a participant of `ticket`
    how: str = ""
    not_followed: list[str] = field(default_factory=list)  # for the admin's reason
    # Tickets of the sender's own organisation the mail named but may not add to by email:
    # the acknowledgement points to them (the sender can reply there in the Support Hub).
    own_organisation: list[Ticket] = field(default_factory=list)


def ticketed(pk: int, message_ids: Sequence[str]) -> dict[str, int]:
    """Message-ID -> ticket of the stored mail with a ticket among `message_ids`, other than
    the message `pk` being processed; of two copies of one Message-ID, the later one's."""
    rows = (
        InboundMessage.objects.filter(message_id__in=message_ids, ticket__isnull=False)
        .exclude(pk=pk)
        .order_by("received_at")
        .values_list("message_id", "ticket_id")
    )
    # Oldest first: a later copy's ticket replaces an earlier one's.
    return {message_id: ticket_id for message_id, ticket_id in rows if ticket_id is not None}


def candidates(inbound: InboundMessage, mail: ParsedMail) -> list[tuple[int, str]]:
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
        earlier_tickets = ticketed(inbound.pk, theirs[:MAX_MESSAGE_IDS])
        for message_id in theirs:
            earlier = earlier_tickets.get(message_id)
            if earlier is not None:
                found.append((earlier, "an earlier mail's Message-ID in In-Reply-To/References"))
    for match in REFERENCE.finditer(mail.subject):
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


def tickets_by_id(ids: Sequence[int]) -> dict[int, Ticket]:
    """The tickets of `ids` that exist, with what threading and ticketing read of them (one
    statement)."""
    return Ticket.objects.select_related("organisation", "requester", "policy_version").in_bulk(ids)


def thread_find(
    inbound: InboundMessage, mail: ParsedMail, contacts: list[SupportContact]
) -> Thread:
    """The first candidate ticket the sender (one of `contacts`) is a participant of."""
    found = candidates(inbound, mail)
    if not found:
        return Thread()
    by_id = tickets_by_id([ticket_id for ticket_id, _ in found])  # distinct (see candidates)
    thread = Thread()
    for ticket_id, how in found:
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
