"""Routing of the cases of covered subscriptions (seed 003): "Assignment of all applicable cases
raised during the DSE's Available Hours"; otherwise, and past the Monthly Limit, "Support
Services will be delivered by another Elastic support engineer" (normal routing).

`route_new_case` is called by ticket opening on every channel, only for a subscription some
engagement covers (`Subscription.dse_covered`, read with the entitlement): it reads the
engagement with its engineer, the engineer's days off and the month's minutes (three
statements) and decides with `dse.availability.decide`, which `supporthub dse replay` runs
too. `cover_if_needed` does the same for a customer's message on a case the DSE holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from supporthub.actors import Actor
from supporthub.businesstime import Calendar
from supporthub.customers.selectors import local_date
from supporthub.dse.availability import Decision, decide
from supporthub.dse.calendars import engineer_calendar
from supporthub.dse.models import MINUTES_PER_HOUR, Coverage, Engagement
from supporthub.dse.selectors import minutes_used, month_start
from supporthub.policies import schema
from supporthub.routing.regions import region_for
from supporthub.sla.clocks import iso
from supporthub.staff.models import StaffMember
from supporthub.tickets.audit import audit, audit_entry
from supporthub.tickets.models import OPEN_STATUSES, AuditEntry, Ticket


@dataclass(frozen=True)
class Routing:
    """What the DSE rule decided for a case: the engagement and the decision."""

    engagement: Engagement
    decision: Decision


def serving_engagement(*, subscription_id: int, on: date) -> Engagement | None:
    """The engagement covering this subscription on `on` (its term includes the date), with
    its organisation and engineer."""
    return (
        Engagement.objects.filter(subscriptions=subscription_id, start__lte=on, end__gte=on)
        .select_related("organisation", "engineer")
        .order_by("-start")
        .first()
    )


def available_hours(engineer: StaffMember, dse: schema.DseAddon, at: datetime) -> Calendar:
    """The engineer's Available Hours, right for instants from `at` on."""
    zone = ZoneInfo(dse.available_hours.zone or engineer.time_zone)
    since = at.astimezone(zone).date() - timedelta(days=1)
    return engineer_calendar(engineer, dse.available_hours, since=since)


def decide_for(*, engagement: Engagement, dse: schema.DseAddon, at: datetime) -> Decision:
    """The routing decision for a case of this engagement received at `at`: the month's
    hours (the organisation's calendar month) against the Monthly Limit, then the engineer's
    Available Hours."""
    month = month_start(local_date(engagement.organisation, at))
    used = minutes_used(engagement_id=engagement.pk, month=month)
    return decide(
        calendar=available_hours(engagement.engineer, dse, at),
        at=at,
        monthly_limit_hours=engagement.monthly_limit_hours,
        hours_logged_this_month=Decimal(used) / MINUTES_PER_HOUR,
    )


def route_new_case(*, ticket: Ticket, policy: schema.Policy) -> Routing | None:
    """For a new case (unsaved) of a covered subscription: assign it to the DSE when the rule
    says so. None when no engagement serves the case (or the policy has no DSE package)."""
    if policy.dse is None or not ticket.subscription.dse_covered:
        return None
    day = local_date(ticket.organisation, ticket.received_at)
    engagement = serving_engagement(subscription_id=ticket.subscription.pk, on=day)
    if engagement is None:
        return None
    engagement.organisation = ticket.organisation
    decision = decide_for(engagement=engagement, dse=policy.dse, at=ticket.received_at)
    if decision.to_dse and engagement.engineer.is_active:
        ticket.assignee = engagement.engineer
    return Routing(engagement, decision)


def routing_audit_entry(*, ticket: Ticket, routing: Routing, actor: Actor) -> AuditEntry:
    """`dse.assigned` (to the DSE) or `dse.overflow` (to normal routing: why, and when the DSE
    is next available)."""
    decision, engagement = routing.decision, routing.engagement
    return audit_entry(
        ticket=ticket,
        code="dse.assigned" if decision.to_dse else "dse.overflow",
        actor=actor,
        at=ticket.received_at,
        engagement=engagement.pk,
        engineer=engagement.engineer_id,
        reason=decision.reason,
        next_available_at=iso(decision.next_available_at),
        region=ticket.region,
    )


def cover_if_needed(*, ticket: Ticket, at: datetime) -> Coverage | None:
    """A customer's message on an open case the DSE holds, outside the DSE's Available Hours
    or past the Monthly Limit: normal routing's region covers it until the DSE is back, with an
    audit entry. The case stays the DSE's. One read for an assigned case; more only when its
    assignee is the DSE of an engagement covering it."""
    if ticket.assignee_id is None or ticket.status not in OPEN_STATUSES:
        return None
    engagement = (
        Engagement.objects.filter(
            engineer=ticket.assignee_id,
            subscriptions=ticket.subscription_id,
            start__lte=local_date(ticket.organisation, at),
            end__gte=local_date(ticket.organisation, at),
        )
        .select_related("organisation", "engineer")
        .first()
    )
    policy = ticket.policy_version.document()
    if engagement is None or policy.dse is None:
        return None
    decision = decide_for(engagement=engagement, dse=policy.dse, at=at)
    if decision.to_dse:
        return None
    region = region_for(policy, at)
    coverage = Coverage.objects.create(
        engagement=engagement,
        ticket=ticket,
        reason=decision.reason,
        region=region.key if region is not None else "",
        at=at,
        until=decision.next_available_at,
    )
    audit(
        ticket=ticket,
        code="dse.covered",
        at=at,
        engagement=engagement.pk,
        engineer=engagement.engineer_id,
        reason=decision.reason,
        region=coverage.region,
        next_available_at=iso(decision.next_available_at),
    )
    return coverage
