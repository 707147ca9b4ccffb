"""Clocks on one ticket: start the first-response clock, record the first response, and keep
the breach warnings in step when the due instant moves. Bulk re-timing is in `retiming`,
closures in `closures`."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from supporthub.customers.models import Organisation
from supporthub.policies import schema
from supporthub.sla import clocks
from supporthub.sla.calendars import calendar_for
from supporthub.tickets.models import FirstResponseStatus, Ticket


def first_response_start(
    *,
    ticket: Ticket,
    policy: schema.Policy,
    organisation: Organisation,
    calendar_stamp: str | None = None,
) -> None:
    """Set the due instant from the receipt time under the ticket's policy and severity
    (`calendar_stamp`: see calendars.closures_cached)."""
    level = policy.support_levels[ticket.support_level]
    target = level.targets.get(ticket.severity)
    if target is None:
        ticket.first_response_due_at = None
        ticket.first_response_status = FirstResponseStatus.NO_TARGET
        return
    calendar = calendar_for(
        organisation=organisation, policy=policy, support_level=level, stamp=calendar_stamp
    )
    ticket.first_response_due_at = clocks.due_at(calendar, target, ticket.received_at)
    ticket.first_response_status = FirstResponseStatus.PENDING
    ticket.sla_next_warning_at = clocks.next_warning_at(
        ticket=ticket, calendar=calendar, target=target
    )


def warnings_skip_past(
    *, ticket: Ticket, policy: schema.Policy, organisation: Organisation, now: datetime
) -> None:
    """Treat warning points that fell due before `now` as history (an imported ticket): they
    are not sent; the next point still to come, if any, is scheduled. Sets the fields only."""
    level = policy.support_levels[ticket.support_level]
    target = level.targets.get(ticket.severity)
    if target is None or ticket.first_response_at is not None:
        return
    calendar = calendar_for(organisation=organisation, policy=policy, support_level=level)
    instants = clocks.warning_instants(ticket=ticket, calendar=calendar, target=target)
    passed = [point for point, at in instants.items() if at <= now]
    if passed:
        ticket.sla_warned_point = max(passed)
    ticket.sla_next_warning_at = min(
        (at for point, at in instants.items() if point > ticket.sla_warned_point), default=None
    )


def warnings_follow_due(
    *,
    ticket: Ticket,
    previous_due: datetime | None,
    policy: schema.Policy,
    organisation: Organisation,
    now: datetime | None = None,
) -> None:
    """After the due instant was re-derived (sets the fields only).

    Moved later (a lower severity, a closure added): the warnings already sent no longer
    hold, so the clock's points start again; those already past under the new due instant
    are not sent (nothing new to say), the others fire when reached. Moved earlier: points
    already sent stay sent, and one that is now past fires at the next scan.
    """
    due = ticket.first_response_due_at
    if previous_due is None or due is None or due <= previous_due:
        return
    ticket.sla_warned_point = 0
    warnings_skip_past(
        ticket=ticket, policy=policy, organisation=organisation, now=now or timezone.now()
    )


def first_response_record(*, ticket: Ticket, at: datetime) -> None:
    """The first public staff reply: met if at or before the due instant."""
    ticket.first_response_at = at
    if ticket.first_response_due_at is None:
        ticket.first_response_status = FirstResponseStatus.NO_TARGET
    elif at <= ticket.first_response_due_at:
        ticket.first_response_status = FirstResponseStatus.MET
    else:
        ticket.first_response_status = FirstResponseStatus.BREACHED
