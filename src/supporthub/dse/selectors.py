"""Reads of the Designated Support Engineer package: engagements, and the month's usage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404

from supporthub.access import Viewer
from supporthub.businesstime import Calendar
from supporthub.customers.models import Organisation, Subscription
from supporthub.customers.selectors import local_date
from supporthub.dse.availability import available_calendar
from supporthub.dse.calendars import (
    Period,
    absences_of,
    engineer_calendar,
    expand,
    periods,
    place_of,
)
from supporthub.dse.models import MINUTES_PER_HOUR, Absence, AbsenceKind, Engagement, TimeEntry
from supporthub.policies import schema
from supporthub.policies.selectors import PolicyNotInForce, policy_version_in_force
from supporthub.staff.models import StaffMember


def dse_policy(subscription: Subscription, on: date) -> tuple[schema.Policy, schema.DseAddon]:
    """The subscription's policy in force on `on` and its DSE terms; ValidationError if none."""
    try:
        policy = policy_version_in_force(policy_key=subscription.policy.key, on=on).document()
    except PolicyNotInForce:
        raise ValidationError(
            {"subscriptions": f"No version of {subscription.policy.key} is in force on {on}."}
        ) from None
    if policy.dse is None:
        raise ValidationError(
            {"subscriptions": f"{policy.name} offers no Designated Support Engineer package."}
        )
    return policy, policy.dse


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def month_of(engagement: Engagement, at: datetime) -> date:
    """The month (its first day) an instant falls in: the calendar month in the
    organisation's time zone."""
    return month_start(local_date(engagement.organisation, at))


@dataclass(frozen=True)
class CaseUsage:
    """One case's share of a month: minutes counted against the limit, and all minutes
    logged (other engineers' entries included, for the record)."""

    ticket_id: int
    reference: str
    subject: str
    minutes: int
    minutes_logged: int
    entries: int


@dataclass(frozen=True)
class MonthUsage:
    """An engagement's use of one month's Monthly Limit."""

    engagement_id: int
    month: date  # the first day
    minutes: int  # counted against the limit
    limit_hours: Decimal
    cases: tuple[CaseUsage, ...]  # most minutes first

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.minutes) / MINUTES_PER_HOUR).quantize(Decimal("0.01"))

    @property
    def limit_minutes(self) -> int:
        return int(self.limit_hours * MINUTES_PER_HOUR)

    @property
    def percent(self) -> int:
        """Whole percent of the limit used, rounded down (79.9% is 79)."""
        return self.minutes * 100 // self.limit_minutes

    @property
    def reached(self) -> bool:
        """The limit is reached when the hours used equal it."""
        return self.minutes >= self.limit_minutes

    def describe(self) -> str:
        """ "12.5 of 25 hours used in December 2026"."""
        return (
            f"{hours_text(self.hours)} of {hours_text(self.limit_hours)} hours used in "
            f"{self.month:%B %Y}"
        )


def hours_text(value: Decimal | int) -> str:
    """Hours as the pages write them ("12.5"); an int is minutes."""
    if isinstance(value, int):
        value = Decimal(value) / MINUTES_PER_HOUR
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def month_usage(*, engagement: Engagement, month: date) -> MonthUsage:
    """Hours used in `month` (any day of it) and the per-case breakdown, in one query."""
    first = month_start(month)
    rows = (
        TimeEntry.objects.filter(engagement=engagement, date__gte=first, date__lt=next_month(first))
        .values("ticket_id", "ticket__subject")
        .annotate(
            counted=Sum("minutes", filter=Q(counts_toward_limit=True), default=0),
            logged=Sum("minutes"),
            entries=Count("pk"),
        )
        .order_by("ticket_id")
    )
    cases = [
        CaseUsage(
            ticket_id=row["ticket_id"],
            reference=f"SH-{row['ticket_id']:06d}",
            subject=row["ticket__subject"],
            minutes=row["counted"],
            minutes_logged=row["logged"],
            entries=row["entries"],
        )
        for row in rows
    ]
    cases.sort(key=lambda case: (-case.minutes, case.ticket_id))
    return MonthUsage(
        engagement_id=engagement.pk,
        month=first,
        minutes=sum(case.minutes for case in cases),
        limit_hours=engagement.monthly_limit_hours,
        cases=tuple(cases),
    )


def minutes_used(*, engagement_id: int, month: date) -> int:
    """Minutes counted against the limit in `month`: the one number routing needs."""
    first = month_start(month)
    total = TimeEntry.objects.filter(
        engagement_id=engagement_id,
        counts_toward_limit=True,
        date__gte=first,
        date__lt=next_month(first),
    ).aggregate(total=Sum("minutes", default=0))["total"]
    return int(total)


def engagements_active(*, on: date) -> QuerySet[Engagement]:
    """Engagements whose term includes `on`, with their organisation and engineer."""
    return Engagement.objects.filter(start__lte=on, end__gte=on).select_related(
        "organisation", "engineer"
    )


def engagements_of(*, organisation: Organisation) -> QuerySet[Engagement]:
    return (
        Engagement.objects.filter(organisation=organisation)
        .select_related("engineer", "organisation")
        .prefetch_related("subscriptions")
        .order_by("-start")
    )


@dataclass(frozen=True)
class Availability:
    """The engineer's Available Hours seen from an instant: open now, or when next."""

    open_now: bool
    starts_at: datetime  # the current span's start, or the next one's
    ends_at: datetime


@dataclass(frozen=True)
class Overview:
    """What an engagement page shows: its state today, the month's usage and availability."""

    engagement: Engagement
    today: date  # the organisation's
    state: str  # "active", "not_started", "ended", "no_active_subscription"
    why: str  # one sentence for the page when routing to the DSE does not apply
    serving: tuple[Subscription, ...]  # covered subscriptions in force today
    usage: MonthUsage
    availability: Availability | None  # None: the policy has no DSE terms
    terms: schema.DseAddon | None
    business: Calendar | None  # the engineer's Business Days (no absences), for counting


def engagement_state(
    engagement: Engagement, *, today: date, subscriptions: Sequence[Subscription]
) -> tuple[str, str, tuple[Subscription, ...]]:
    serving = tuple(s for s in subscriptions if s.term_start <= today <= s.term_end)
    if today < engagement.start:
        return "not_started", f"The engagement starts on {engagement.start:%-d %B %Y}.", serving
    if today > engagement.end:
        return (
            "ended",
            f"The engagement ended on {engagement.end:%-d %B %Y}; it does not renew by itself.",
            serving,
        )
    if not serving:
        return (
            "no_active_subscription",
            "No subscription this engagement covers is active today, so new cases go to "
            "normal routing: DSE services can only be fulfilled whilst a supported "
            "subscription is active.",
            serving,
        )
    return "active", "", serving


def engagement_overview(*, engagement: Engagement, now: datetime) -> Overview:
    """The engagement seen at `now`: state, this month's usage, the engineer's availability."""
    today = local_date(engagement.organisation, now)
    subscriptions = list(engagement.subscriptions.select_related("policy"))
    state, why, serving = engagement_state(engagement, today=today, subscriptions=subscriptions)
    availability = None
    terms: schema.DseAddon | None = None
    business = None
    if subscriptions:
        try:
            _, terms = dse_policy(serving[0] if serving else subscriptions[0], today)
        except ValidationError:
            terms = None
        if terms is not None:
            zone_day = now.astimezone(ZoneInfo(engagement.engineer.time_zone)).date()
            calendar = engineer_calendar(
                engagement.engineer, terms.available_hours, since=zone_day - timedelta(days=1)
            )
            ((start, end),) = calendar.openings(now, 1)
            availability = Availability(start <= now, start, end)
            business = available_calendar(terms.available_hours, place_of(engagement.engineer))
    return Overview(
        engagement=engagement,
        today=today,
        state=state,
        why=why,
        serving=serving,
        usage=month_usage(engagement=engagement, month=today),
        availability=availability,
        terms=terms,
        business=business,
    )


def engagements_visible_to(viewer: Viewer) -> QuerySet[Engagement]:
    """Engagements the viewer may see: customers their organisation's; staff who see every
    ticket, all; an account manager their organisations'; an engineer their own."""
    engagements = Engagement.objects.select_related("organisation", "engineer")
    if viewer.organisation is not None:
        return engagements.filter(organisation_id=viewer.organisation.pk)
    if viewer.sees_all_tickets:
        return engagements
    if viewer.staff is not None:
        staff = viewer.staff
        return engagements.filter(
            Q(organisation__account_manager=staff)
            | Q(organisation__project_manager=staff)
            | Q(engineer=staff)
        )
    return engagements.none()


def engagement_for(viewer: Viewer, pk: int) -> Engagement:
    """The engagement `pk` if the viewer may see it; 404 otherwise."""
    engagement = engagements_visible_to(viewer).filter(pk=pk).first()
    if engagement is None:
        raise Http404("No such engagement.")
    return engagement


def usage_by_engagement(engagements: Sequence[Engagement], *, now: datetime) -> dict[int, int]:
    """Minutes counted this month (each organisation's month) per engagement, in one query."""
    if not engagements:
        return {}
    scope = Q()
    for engagement in engagements:
        first = month_start(local_date(engagement.organisation, now))
        scope |= Q(engagement=engagement.pk, date__gte=first, date__lt=next_month(first))
    rows = (
        TimeEntry.objects.filter(scope, counts_toward_limit=True)
        .values("engagement_id")
        .annotate(total=Sum("minutes"))
    )
    return {row["engagement_id"]: row["total"] for row in rows}


def absences_ahead(engineer: StaffMember, *, since: date, limit: int = 20) -> list[Absence]:
    """The engineer's absences (company holidays of their place too) ending on or after
    `since`, soonest first."""
    return list(
        Absence.objects.filter(absences_of(engineer, since=since)).order_by("start", "pk")[:limit]
    )


def time_entries(*, engagement: Engagement, month: date) -> QuerySet[TimeEntry]:
    first = month_start(month)
    return (
        TimeEntry.objects.filter(engagement=engagement, date__gte=first, date__lt=next_month(first))
        .select_related("ticket", "engineer")
        .order_by("-date", "-pk")
    )


def administrative_days_used(
    engagement: Engagement, *, per_year: int, business: Calendar
) -> list[tuple[Period, int]]:
    """Each twelve-month period of the engagement with its cap and the Administrative Days
    (Business Days) its engineer has taken in it."""
    spans = Absence.objects.filter(
        engineer=engagement.engineer,
        kind=AbsenceKind.ADMINISTRATIVE_DAY,
        end__gte=engagement.start,
        start__lte=engagement.end,
    ).values_list("start", "end")
    days = [d for d in expand(spans) if business.is_business_day(d)]
    return [
        (period, sum(1 for d in days if period.start <= d <= period.end))
        for period in periods(engagement.start, engagement.end, per_year)
    ]
