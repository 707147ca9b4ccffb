"""Reads of the Designated Support Engineer package: engagements, and the month's usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from supporthub.customers.models import Organisation
from supporthub.customers.selectors import local_date
from supporthub.dse.models import MINUTES_PER_HOUR, Engagement, TimeEntry


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
            f"{_hours_text(self.hours)} of {_hours_text(self.limit_hours)} hours used in "
            f"{self.month:%B %Y}"
        )


def _hours_text(value: Decimal) -> str:
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
