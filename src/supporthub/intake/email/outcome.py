"""The contract between the inbox (which stores and claims raw mail) and mail to ticket.

The inbox (`models`, `services`) calls `ticketing.mail_to_ticket(*, inbound: InboundMessage)
-> MailOutcome` inside the transaction that marks the stored message processed, so a message
is ticketed exactly once: if anything raises, the whole transaction rolls back and the
message stays stored. `mail_to_ticket` reads the row (raw bytes, received_at, envelope) and
never writes it; the inbox records the outcome on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Disposition(StrEnum):
    OPENED = "opened"  # a new ticket
    ADDED = "added"  # a reply added to an existing ticket
    IGNORED = "ignored"  # auto-reply, bounce or loop: kept, nothing created, nobody answered
    REFUSED = "refused"  # not from a Support Contact: kept, the sender told how to get support


@dataclass(frozen=True)
class MailOutcome:
    disposition: Disposition
    reason: str  # one sentence an admin reads in the inbox list
    ticket_id: int | None = None
    ticket_message_id: int | None = None  # the tickets.Message the mail became, if any


class MailUnprocessable(Exception):
    """The message cannot be processed as it is (malformed MIME, no usable sender...).

    The inbox quarantines it with str(exc) as the reason, for an admin to see and reprocess.
    """
