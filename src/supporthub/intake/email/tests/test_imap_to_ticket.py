"""End to end on real servers: mail in dovecot becomes a ticket, acknowledged once."""

from __future__ import annotations

import pytest

from supporthub.intake.email.imap import imap_poll
from supporthub.intake.email.models import InboundMessage, InboundState
from supporthub.intake.email.outcome import Disposition
from supporthub.intake.email.services import inbox_process_due
from supporthub.intake.email.tests.fakes import message
from supporthub.intake.email.tests.servers import Dovecot, dovecot, dovecot_server
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.testing.world import World
from supporthub.tickets.models import Channel, Ticket

__all__ = ["dovecot", "dovecot_server"]  # the fixtures

pytestmark = pytest.mark.django_db


def test_mail_polled_from_dovecot_opens_one_ticket_and_a_reply_threads_onto_it(
    world: World, dovecot: Dovecot
) -> None:
    first = message(1, sender=world.carol.email, subject="Export broken")
    reply = message(
        2,
        sender=world.carol.email,
        subject="Re: Export broken",
        headers="In-Reply-To: <inbox-test-1@initech.example>",
        body="Still broken this morning.",
    )
    dovecot.append(first)
    imap_poll(config=dovecot.config())
    assert inbox_process_due() == 1
    dovecot.append(reply, first)  # the first again: a copy, e.g. also sent to another address
    imap_poll(config=dovecot.config())
    assert inbox_process_due() == 1
    assert inbox_process_due() == 0

    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.EMAIL
    assert ticket.requester == world.carol
    rows = list(InboundMessage.objects.order_by("pk"))
    assert [(r.state, r.disposition) for r in rows] == [
        (InboundState.PROCESSED, Disposition.OPENED),
        (InboundState.PROCESSED, Disposition.ADDED),
    ]
    assert {r.ticket_id for r in rows} == {ticket.pk}
    assert ticket.messages.get().body.startswith("Still broken this morning.")
    assert OutboxMessage.objects.filter(ticket=ticket, kind=OutboxKind.ACKNOWLEDGED).count() == 1
    assert dovecot.uids("INBOX") == []
    assert len(dovecot.uids("Processed")) == 3  # the copy is moved too, stored once
