"""Escalation mail: the CS lead hears of every escalated ticket, through the outbox."""

from __future__ import annotations

from supporthub.notify.models import OutboxKind
from supporthub.notify.services import outbox_enqueue, public_url
from supporthub.sla.clocks import iso
from supporthub.staff.models import Role
from supporthub.staff.selectors import staff_with_role
from supporthub.tickets.models import Ticket


def escalation_notify(*, ticket: Ticket, by: str) -> int:
    """Mail the active CS lead(s) that a ticket was escalated (by a person, or "" for the
    system), in the caller's transaction; one mail per lead per escalation. Returns how many."""
    leads = staff_with_role(Role.CS_LEAD).exclude(user__email="")
    context = {
        "ticket": ticket,
        "reference": ticket.reference,
        "reason": ticket.escalation_reason,
        "by": by,
        "url": public_url("console:hot_items"),
    }
    sent = 0
    for lead in leads:
        outbox_enqueue(
            kind=OutboxKind.ESCALATED,
            dedupe_key=f"escalated:{ticket.pk}:{iso(ticket.escalated_at)}:{lead.pk}",
            recipient=lead.user.email,
            subject=f"[{ticket.reference}] Escalated to the CS lead: {ticket.subject}",
            template="sla/escalated",
            context=context,
            ticket=ticket,
        )
        sent += 1
    return sent
