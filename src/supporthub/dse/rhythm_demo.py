"""Demo data of the engagement's rhythm (`supporthub demo`): the Platinum organisation's
check-ins, an environment profile in two versions, an Administrative Day and last month's
report (counting the cases and time the engagement's own demo, `dse.demo`, gives last month).
Safe to run again: it does nothing once the check-ins exist.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from supporthub.access import Viewer, viewer_for
from supporthub.customers.models import Organisation
from supporthub.customers.selectors import local_date
from supporthub.dse.models import Absence, AbsenceKind, CheckIn, Engagement
from supporthub.dse.profile import ProfileInput, profile_edit
from supporthub.dse.report_mail import monthly_report_generate
from supporthub.dse.rhythm import CheckInInput, check_in_record
from supporthub.dse.selectors import month_start
from supporthub.staff.models import StaffMember

ORGANISATION = "Globex Retail"  # the demo's Platinum organisation, on an annual subscription
SKU = "Support: Designated Support Engineer"


def rhythm_demo_engagement() -> Engagement | None:
    """The Platinum organisation's engagement: the newest one, or one made for the demo (an
    engineer of the EU region, a year from three months ago) when there is none."""
    organisation = Organisation.objects.filter(name=ORGANISATION).first()
    if organisation is None:
        return None
    existing = Engagement.objects.filter(organisation=organisation).order_by("-start").first()
    if existing is not None:
        return existing
    engineer = StaffMember.objects.filter(user__username="eric").first()
    if engineer is None:
        return None
    start = month_start(month_start(local_date(organisation, timezone.now())) - timedelta(days=80))
    engagement = Engagement.objects.create(
        organisation=organisation,
        engineer=engineer,
        sku=SKU,
        start=start,
        end=date(start.year + 1, start.month, 1) - timedelta(days=1),
        monthly_limit_hours=Decimal(25),
        agreement="Demo order form",
        created_at=timezone.now(),
    )
    engagement.subscriptions.set(organisation.subscriptions.all())
    return engagement


def demo_rhythm(engagement: Engagement | None = None) -> Engagement | None:
    """Check-ins, the profile and last month's report of `engagement` (the Platinum
    organisation's when None); nothing when it already has check-ins."""
    engagement = engagement or rhythm_demo_engagement()
    if engagement is None or CheckIn.objects.filter(engagement=engagement).exists():
        return engagement
    dse = viewer_for(engagement.engineer.user)
    if dse is None:
        return engagement
    now = timezone.now()
    organisation = engagement.organisation
    this_month = month_start(local_date(organisation, now))
    last_month = month_start(this_month - timedelta(days=1))
    if last_month < engagement.start:
        return engagement
    with transaction.atomic():
        _check_ins(engagement, dse, last_month, this_month)
        _profile(engagement, dse, last_month)
        Absence.objects.get_or_create(
            kind=AbsenceKind.ADMINISTRATIVE_DAY,
            engineer=engagement.engineer,
            start=_weekday(last_month, 20),
            end=_weekday(last_month, 20),
            defaults={"note": "Elastic Certified Engineer training", "created_at": now},
        )
    monthly_report_generate(engagement=engagement, month=last_month, now=now)
    return engagement


def _weekday(month: date, day: int) -> date:
    """The `day`th of `month`, or the Monday after when it falls on a weekend."""
    found = month.replace(day=day)
    return found + timedelta(days=(7 - found.weekday()) % 7 if found.weekday() >= 5 else 0)


def _at(organisation: Organisation, day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(organisation.time_zone))


def _check_ins(engagement: Engagement, dse: Viewer, last_month: date, this_month: date) -> None:
    attendees = ", ".join(
        [
            *(c.name for c in engagement.organisation.support_contacts.order_by("name")),
            engagement.engineer.display_name,
        ]
    )
    held = [
        CheckInInput(
            kind="monthly",
            milestone="",
            date=_weekday(last_month, 5),
            attendees=attendees,
            notes="Reviewed open cases and the Black Friday readiness plan. Agreed a load "
            "test on the 17th and an upgrade rehearsal before the holidays.",
            next_date=_weekday(this_month, 4),
        ),
        CheckInInput(
            kind="milestone",
            milestone="upgrade",
            date=_weekday(last_month, 26),
            attendees=attendees,
            notes="Upgrade to 8.17 planned: staging first, production after the freeze. "
            "Rolling restart order and snapshot before each step agreed.",
            next_date=this_month + timedelta(days=40),
        ),
    ]
    for data in held:
        check_in_record(
            engagement=engagement,
            data=data,
            viewer=dse,
            now=_at(engagement.organisation, data.date, 17),
        )


def _profile(engagement: Engagement, dse: Viewer, month: date) -> None:
    first = ProfileInput(
        deployments="prod-search: Elastic Cloud, AWS eu-central-1, 3 zones, 6 x 64 GB hot, "
        "3 x 32 GB warm\nstaging-search: Elastic Cloud, AWS eu-central-1, 1 zone",
        versions="prod-search: 8.15.3\nstaging-search: 8.15.3",
        architecture="Product catalogue indexed from the order service through Kafka and "
        "Logstash; the web shop queries through the Java client.\nSnapshots hourly to S3.",
        use_cases="Product search and autocomplete for the web shop (12 countries)\n"
        "Observability: application logs and APM of the checkout",
        summary="First profile, from the onboarding call",
    )
    second = ProfileInput(
        deployments=first.deployments
        + "\nlogs-observability: Elastic Cloud, AWS eu-central-1, 2 zones",
        versions="prod-search: 8.15.3 (8.17 upgrade planned)\nstaging-search: 8.17.0\n"
        "logs-observability: 8.17.0",
        architecture=first.architecture,
        use_cases=first.use_cases,
        summary="Staging on 8.17; separate observability deployment",
    )
    organisation = engagement.organisation
    for number, (data, day) in enumerate(((first, 5), (second, 26))):
        profile_edit(
            engagement=engagement,
            data=data,
            based_on=number,
            viewer=dse,
            now=_at(organisation, _weekday(month, day), 18),
        )
