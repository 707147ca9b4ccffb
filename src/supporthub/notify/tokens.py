"""Tokenised Reply-To addresses: reply+{token}@REPLY_DOMAIN names a ticket and a Support Contact.

The token is an HMAC (django.utils.crypto.salted_hmac, keyed by SECRET_KEY) in lower-case hex
rather than django.core.signing's base64: some mail servers fold the case of the local part,
and a base64 signature would no longer verify.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from supporthub.customers.models import SupportContact
from supporthub.tickets.models import Ticket

_SALT = "supporthub.notify.reply-to"
_TOKEN = re.compile(r"^(\d+)-(\d+)-([0-9a-f]{32})$")


class ReplyTokenInvalid(ValueError):
    """The token was not made by this Support Hub (tampered, truncated or another key)."""


def _signature(ticket_id: int, contact_id: int) -> str:
    return salted_hmac(_SALT, f"{ticket_id}.{contact_id}", algorithm="sha256").hexdigest()[:32]


def reply_token_for(ticket: Ticket, contact: SupportContact) -> str:
    return f"{ticket.pk}-{contact.pk}-{_signature(ticket.pk, contact.pk)}"


def reply_address(ticket: Ticket, contact: SupportContact) -> str:
    return f"reply+{reply_token_for(ticket, contact)}@{settings.REPLY_DOMAIN}"


def reply_token_read(token: str) -> tuple[int, int]:
    """(ticket id, Support Contact id) of a token from reply_token_for; raises ReplyTokenInvalid."""
    match = _TOKEN.match(token.strip().lower())
    if match is None:
        raise ReplyTokenInvalid(f"Reply token {token!r} is not in the ticket-contact-hmac form.")
    ticket_id, contact_id = int(match[1]), int(match[2])
    if not constant_time_compare(match[3], _signature(ticket_id, contact_id)):
        raise ReplyTokenInvalid(f"Reply token {token!r} has a signature that does not verify.")
    return ticket_id, contact_id
