"""The monthly case report generated and mailed once: on the first business day of the next
month, by the organisation's calendar, to its active Support Contacts and its account manager.

"The organisation's calendar": its time zone, and its Business Days as its first-response
clocks count them: Monday to Friday, not a national holiday of its holiday place (its own, else
its policy's), not one of its closures. The report of a month is due from the start of that
first business day in the organisation's zone; the worker's periodic job (``dse.tasks``)
generates every due report it finds, at most one per engagement and month (the unique
MonthlyReport row, written in the transaction of its mail).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from supporthub.businesstime import Calendar, HolidayPlace
from supporthub.customers.models import Organisation
from supporthub.customers.selectors import active_support_contacts, holiday_place, local_date
from supporthub.dse.models import Engagement, MonthlyReport
from supporthub.dse.report import ReportFigures, report_figures, report_policy
from supporthub.dse.selectors import month_start, next_month
from supporthub.notify.models import OutboxKind
from supporthub.notify.services import outbox_enqueue, public_url
from supporthub.policies import schema
from supporthub.sla.calendars import closures_cached

logger = logging.getLogger(__name__)


def organisation_calendar(organisation: Organisation, policy: schema.Policy | None) -> Calendar:
    """The organisation's Business Days (Monday to Friday, less its holidays and closures)."""
    country, subdivision = (
        holiday_place(organisation=organisation, policy=policy)
        if policy is not None
        else (organisation.holiday_country, organisation.holiday_subdivision or None)
    )
    return Calendar.windows(
        organisation.time_zone,
        [("00:00", "24:00")],
        holidays=HolidayPlace(country, subdivision or None) if country else None,
        closures=closures_cached(organisation=organisation, holiday_country=country, stamp=None),
    )


def first_business_day(calendar: Calendar, month: date) -> date:
    """The first Business Day of `month` (its first day given)."""
    day = month
    while not calendar.is_business_day(day):
        day += timedelta(days=1)
    return day


def report_due_on(engagement: Engagement, month: date, *, calendar: Calendar | None = None) -> date:
    """The date the report of `month` is mailed: the next month's first business day (on
    `calendar`, the organisation's, read when not given)."""
    if calendar is None:
        policy = report_policy(engagement, next_month(month))
        calendar = organisation_calendar(engagement.organisation, policy)
    return first_business_day(calendar, next_month(month))


def recipients(organisation: Organisation) -> list[tuple[str, str]]:
    """(address, who) for every active Support Contact and the account manager, each once."""
    found: dict[str, tuple[str, str]] = {}
    for contact in active_support_contacts(organisation=organisation).order_by("name"):
        found.setdefault(contact.email.lower(), (contact.email, "contact"))
    manager = organisation.account_manager
    if manager is not None and manager.is_active and manager.user.email:
        found.setdefault(manager.user.email.lower(), (manager.user.email, "account_manager"))
    return list(found.values())


def monthly_report_generate(
    *, engagement: Engagement, month: date, now: datetime | None = None
) -> MonthlyReport | None:
    """Generate the report of `month` and mail it, once: None when it already exists."""
    now = now or timezone.now()
    month = month_start(month)
    with transaction.atomic():
        try:
            with transaction.atomic():
                report = MonthlyReport.objects.create(
                    engagement=engagement, month=month, figures={}, generated_at=now
                )
        except IntegrityError:
            return None  # generated already (perhaps by another worker this instant)
        figures = report_figures(engagement=engagement, month=month, now=now)
        report.figures = figures.to_json()
        addresses = recipients(engagement.organisation)
        for address, who in addresses:
            _enqueue(report, figures, address=address, who=who)
        report.sent_at = now if addresses else None
        report.save(update_fields=["figures", "sent_at"])
    return report


def monthly_reports_due(*, now: datetime) -> list[tuple[Engagement, date]]:
    """(engagement, month) for each report whose first business day has come and that was not
    generated yet: the month before the organisation's current one, if the engagement ran in
    it."""
    earliest = month_start(now.date() - timedelta(days=45))
    candidates = (
        Engagement.objects.filter(start__lt=now.date() + timedelta(days=1), end__gte=earliest)
        .select_related("organisation", "engineer")
        .prefetch_related("monthly_reports")
    )
    due = []
    for engagement in candidates:
        current = month_start(local_date(engagement.organisation, now))
        month = month_start(current - timedelta(days=1))
        if not (engagement.start < current and engagement.end >= month):
            continue
        if any(r.month == month for r in engagement.monthly_reports.all()):
            continue
        if local_date(engagement.organisation, now) >= report_due_on(engagement, month):
            due.append((engagement, month))
    return due


def monthly_reports_send(*, now: datetime | None = None) -> int:
    """Generate and mail every due report; returns how many were generated."""
    now = now or timezone.now()
    generated = 0
    for engagement, month in monthly_reports_due(now=now):
        if monthly_report_generate(engagement=engagement, month=month, now=now) is not None:
            generated += 1
    return generated


def report_slug(month: date) -> str:
    return f"{month:%Y-%m}"


def _who_key(address: str) -> str:
    return hashlib.sha256(address.lower().encode()).hexdigest()[:16]


def _enqueue(report: MonthlyReport, figures: ReportFigures, *, address: str, who: str) -> None:
    engagement = report.engagement
    slug = report_slug(report.month)
    if who == "contact":
        links = {
            "url": public_url("dse_rhythm:hub_report", engagement.pk, slug),
            "pdf_url": public_url("dse_rhythm:hub_report_pdf", engagement.pk, slug),
            "csv_url": public_url("dse_rhythm:hub_report_csv", engagement.pk, slug),
        }
    else:
        links = {
            "url": public_url("dse_rhythm:console_report", engagement.pk, slug),
            "pdf_url": public_url("dse_rhythm:console_report_pdf", engagement.pk, slug),
            "csv_url": public_url("dse_rhythm:console_report_csv", engagement.pk, slug),
        }
    outbox_enqueue(
        kind=OutboxKind.DSE_MONTHLY_REPORT,
        dedupe_key=f"{OutboxKind.DSE_MONTHLY_REPORT}:{report.pk}:{_who_key(address)}",
        recipient=address,
        subject=f"Monthly case report, {report.month:%B %Y}: {figures.organisation} "
        "(Designated Support Engineer)",
        template="dse/mail/monthly_report",
        context={"figures": figures, "who": who, **links},
    )
