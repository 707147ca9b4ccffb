"""The monthly case report's figures for one engagement's month.

The month is the calendar month in the organisation's time zone (as the Monthly Limit's), cut
to the engagement's term when it starts or ends inside it. The cases are those of the
engagement's covered subscriptions:

- **opened**: received in the month, by severity;
- **closed**: moved from an open status to Solved or Closed (or closed as out of scope) in
  the month, each case once, by its severity;
- **first-response attainment**: of the cases opened in the month, met against met plus
  breached, as the SLA report counts it (a clock still running past due is breached, one
  still in time is pending) at the moment the report is generated;
- **hours** counted against the Monthly Limit, per case (``dse.selectors.month_usage``);
- **check-ins held** in the month; **Administrative Days** of the DSE in the month (the DSE of
  each date, after a substitution), counted on the DSE's Business Days only;
- the package's **out-of-scope list**, from the policy version in force at the month's end.

The figures are stored with the report as JSON when it is generated, so the page, the PDF,
the CSV and the mail always show what was sent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.utils import timezone

from supporthub.businesstime import HolidayPlace
from supporthub.dse.models import (
    MINUTES_PER_HOUR,
    Absence,
    AbsenceKind,
    CheckIn,
    Engagement,
    Substitution,
    TimeEntry,
)
from supporthub.dse.selectors import hours_text, month_start, month_usage, next_month
from supporthub.policies import schema
from supporthub.policies.selectors import policy_version_in_force
from supporthub.sla.selectors import attainment
from supporthub.staff.models import StaffMember
from supporthub.tickets.models import OPEN_STATUSES, AuditEntry, Status, Ticket

CLOSING_CODES = ("ticket.status_changed", "ticket.closed_out_of_scope")


@dataclass(frozen=True)
class SeverityFigures:
    """One severity's cases in the month."""

    severity: int
    name: str
    opened: int = 0
    closed: int = 0
    met: int = 0
    breached: int = 0
    pending: int = 0
    no_target: int = 0

    @property
    def attainment(self) -> int | None:
        """Whole percent met of the decided first responses (None: none decided)."""
        decided = self.met + self.breached
        return round(self.met * 100 / decided) if decided else None


@dataclass(frozen=True)
class CaseHours:
    reference: str
    subject: str
    minutes: int  # counted against the Monthly Limit
    minutes_logged: int  # every engineer's, for the record

    @property
    def hours(self) -> Decimal:
        return _hours(self.minutes)

    @property
    def hours_text(self) -> str:
        return hours_text(self.hours)

    @property
    def others_minutes(self) -> int:
        """Minutes other engineers logged on the case: recorded, not counted."""
        return self.minutes_logged - self.minutes


@dataclass(frozen=True)
class CheckInHeld:
    date: date
    kind: str  # "Monthly check-in" or "Milestone check-in"
    milestone: str
    attendees: str


@dataclass(frozen=True)
class ReportFigures:
    """Everything the monthly case report says, as generated."""

    engagement_id: int
    organisation: str
    engineer: str
    sku: str
    month: date  # the first day
    first_day: date  # the first date counted (the engagement's start, if later)
    last_day: date  # the last date counted (inclusive)
    zone: str  # the organisation's, whose calendar month this is
    generated_at: datetime
    policy_name: str
    severities: tuple[SeverityFigures, ...]
    minutes_used: int
    limit_hours: Decimal
    entries_over_limit: int
    cases: tuple[CaseHours, ...]
    check_ins: tuple[CheckInHeld, ...]
    administrative_days: tuple[date, ...]
    out_of_scope: tuple[str, ...] = field(default=())

    # -- totals -------------------------------------------------------------------------------

    @property
    def total(self) -> SeverityFigures:
        return SeverityFigures(
            severity=0,
            name="All severities",
            **{
                name: sum(getattr(row, name) for row in self.severities)
                for name in ("opened", "closed", "met", "breached", "pending", "no_target")
            },
        )

    @property
    def hours_used(self) -> Decimal:
        return _hours(self.minutes_used)

    @property
    def hours_used_text(self) -> str:
        return hours_text(self.hours_used)

    @property
    def limit_text(self) -> str:
        return hours_text(self.limit_hours)

    @property
    def percent_of_limit(self) -> int:
        """Whole percent of the Monthly Limit used, rounded down (as the warnings count)."""
        return self.minutes_used * 100 // int(self.limit_hours * MINUTES_PER_HOUR)

    @property
    def over_limit(self) -> bool:
        return self.minutes_used > int(self.limit_hours * MINUTES_PER_HOUR)

    @property
    def whole_month(self) -> bool:
        return self.first_day == self.month and self.last_day == next_month(self.month) - timedelta(
            days=1
        )

    # -- storage ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "engagement_id": self.engagement_id,
            "organisation": self.organisation,
            "engineer": self.engineer,
            "sku": self.sku,
            "month": self.month.isoformat(),
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "zone": self.zone,
            "generated_at": self.generated_at.isoformat(),
            "policy_name": self.policy_name,
            "severities": [row.__dict__ for row in self.severities],
            "minutes_used": self.minutes_used,
            "limit_hours": str(self.limit_hours),
            "entries_over_limit": self.entries_over_limit,
            "cases": [case.__dict__ for case in self.cases],
            "check_ins": [
                {**held.__dict__, "date": held.date.isoformat()} for held in self.check_ins
            ],
            "administrative_days": [day.isoformat() for day in self.administrative_days],
            "out_of_scope": list(self.out_of_scope),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportFigures:
        return cls(
            engagement_id=data["engagement_id"],
            organisation=data["organisation"],
            engineer=data["engineer"],
            sku=data["sku"],
            month=date.fromisoformat(data["month"]),
            first_day=date.fromisoformat(data["first_day"]),
            last_day=date.fromisoformat(data["last_day"]),
            zone=data["zone"],
            generated_at=datetime.fromisoformat(data["generated_at"]),
            policy_name=data["policy_name"],
            severities=tuple(SeverityFigures(**row) for row in data["severities"]),
            minutes_used=data["minutes_used"],
            limit_hours=Decimal(data["limit_hours"]),
            entries_over_limit=data["entries_over_limit"],
            cases=tuple(CaseHours(**case) for case in data["cases"]),
            check_ins=tuple(
                CheckInHeld(**{**held, "date": date.fromisoformat(held["date"])})
                for held in data["check_ins"]
            ),
            administrative_days=tuple(date.fromisoformat(d) for d in data["administrative_days"]),
            out_of_scope=tuple(data["out_of_scope"]),
        )


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / MINUTES_PER_HOUR).quantize(Decimal("0.01"))


# -- the figures --------------------------------------------------------------------------------


def report_policy(engagement: Engagement, on: date) -> schema.Policy | None:
    """The policy of the engagement's covered subscriptions in force on `on`."""
    subscription = engagement.subscriptions.select_related("policy").order_by("pk").first()
    if subscription is None:
        return None
    return policy_version_in_force(policy_key=subscription.policy.key, on=on).document()


def report_figures(
    *, engagement: Engagement, month: date, now: datetime | None = None
) -> ReportFigures:
    """The figures of `month` (any day of it), counted as of `now` (a running first-response
    clock past due then is breached)."""
    now = now or timezone.now()
    month = month_start(month)
    organisation = engagement.organisation
    first_day = max(month, engagement.start)
    last_day = min(next_month(month) - timedelta(days=1), engagement.end)
    zone = ZoneInfo(organisation.time_zone)
    since = datetime.combine(first_day, time(), tzinfo=zone)
    until = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=zone)
    policy = report_policy(engagement, last_day)
    cases = Ticket.objects.filter(subscription__in=engagement.subscriptions.all())
    opened = cases.filter(received_at__gte=since, received_at__lt=until)
    rows: dict[int, dict[str, int]] = {}

    def row(severity: int) -> dict[str, int]:
        return rows.setdefault(severity, Counter())

    for level in policy.severities if policy is not None else ():
        row(level.level)
    for counted in opened.values("severity").annotate(n=Count("pk")):
        row(counted["severity"])["opened"] = counted["n"]
    for result in attainment(opened, by="severity", now=now):
        for name in ("met", "breached", "pending", "no_target"):
            row(result.key)[name] = getattr(result, name)
    for severity, closed in _closed_by_severity(cases, since, until).items():
        row(severity)["closed"] = closed
    names = {s.level: s.name for s in policy.severities} if policy is not None else {}
    usage = month_usage(engagement=engagement, month=month)
    return ReportFigures(
        engagement_id=engagement.pk,
        organisation=organisation.name,
        engineer=engagement.engineer.display_name,
        sku=engagement.sku,
        month=month,
        first_day=first_day,
        last_day=last_day,
        zone=organisation.time_zone,
        generated_at=now,
        policy_name=policy.name if policy is not None else "",
        severities=tuple(
            SeverityFigures(
                severity=level, name=names.get(level) or f"Severity {level}", **rows[level]
            )
            for level in sorted(rows)
        ),
        minutes_used=usage.minutes,
        limit_hours=engagement.monthly_limit_hours,
        entries_over_limit=TimeEntry.objects.filter(
            engagement=engagement,
            date__gte=month,
            date__lt=next_month(month),
            over_limit=True,
        ).count(),
        cases=tuple(
            CaseHours(
                reference=case.reference,
                subject=case.subject,
                minutes=case.minutes,
                minutes_logged=case.minutes_logged,
            )
            for case in usage.cases
        ),
        check_ins=tuple(
            CheckInHeld(
                date=held.date,
                kind=held.get_kind_display(),
                milestone=held.milestone,
                attendees=held.attendees,
            )
            for held in CheckIn.objects.filter(
                engagement=engagement, date__gte=first_day, date__lte=last_day
            ).order_by("date", "pk")
        ),
        administrative_days=administrative_days(
            engagement=engagement, first_day=first_day, last_day=last_day, policy=policy
        ),
        out_of_scope=policy.dse.out_of_scope if policy is not None and policy.dse else (),
    )


def _closed_by_severity(cases: Any, since: datetime, until: datetime) -> Counter[int]:
    """Cases moved from an open status to Solved or Closed in [since, until), once each."""
    open_values = [s.value for s in OPEN_STATUSES]
    closing = (
        AuditEntry.objects.filter(
            ticket__in=cases, code__in=CLOSING_CODES, at__gte=since, at__lt=until
        )
        .filter(data__previous__in=open_values)
        .filter(
            Q(code="ticket.closed_out_of_scope")
            | Q(data__status__in=[Status.SOLVED.value, Status.CLOSED.value])
        )
        .values_list("ticket_id", "ticket__severity")
        .order_by()  # the entries' own ordering (at, pk) would make every row distinct
        .distinct()
    )
    return Counter(severity for _, severity in closing)


# -- Administrative Days --------------------------------------------------------------------


def engineers_by_date(
    engagement: Engagement, substitutions: list[Substitution], first_day: date, last_day: date
) -> dict[date, StaffMember]:
    """The engagement's DSE on each date (a substitution takes effect on its local date)."""
    zone = ZoneInfo(engagement.organisation.time_zone)
    changes = [(s.at.astimezone(zone).date(), s) for s in substitutions]
    result: dict[date, StaffMember] = {}
    day = first_day
    while day <= last_day:
        later = [s for on, s in changes if on > day]
        result[day] = later[0].from_engineer if later else engagement.engineer
        day += timedelta(days=1)
    return result


def administrative_days(
    *,
    engagement: Engagement,
    first_day: date,
    last_day: date,
    policy: schema.Policy | None,
) -> tuple[date, ...]:
    """The dates in the period that were an Administrative Day of the engagement's DSE of that
    date and one of the DSE's Business Days (a weekday of the Available Hours, not a national
    holiday of the DSE's holiday place, not a company holiday there)."""
    substitutions = list(
        Substitution.objects.filter(engagement=engagement)
        .select_related("from_engineer")
        .order_by("at", "pk")
    )
    dses = engineers_by_date(engagement, substitutions, first_day, last_day)
    engineers = {e.pk: e for e in dses.values()}
    absences = list(
        Absence.objects.filter(start__lte=last_day, end__gte=first_day).filter(
            Q(kind=AbsenceKind.ADMINISTRATIVE_DAY, engineer_id__in=engineers)
            | Q(
                kind=AbsenceKind.COMPANY_HOLIDAY,
                holiday_country__in={e.holiday_country for e in engineers.values()},
            )
        )
    )
    weekdays = (
        policy.dse.available_hours.weekdays
        if policy is not None and policy.dse
        else (0, 1, 2, 3, 4)
    )
    found = []
    for day, engineer in sorted(dses.items()):
        covering = [a for a in absences if a.start <= day <= a.end]
        if not any(
            a.kind == AbsenceKind.ADMINISTRATIVE_DAY and a.engineer_id == engineer.pk
            for a in covering
        ):
            continue
        if day.weekday() not in weekdays or any(
            a.kind == AbsenceKind.COMPANY_HOLIDAY
            and a.holiday_country == engineer.holiday_country
            and a.holiday_subdivision in ("", engineer.holiday_subdivision)
            for a in covering
        ):
            continue
        if engineer.holiday_country and day in HolidayPlace(
            engineer.holiday_country, engineer.holiday_subdivision or None
        ).dates(day.year):
            continue
        found.append(day)
    return tuple(found)
