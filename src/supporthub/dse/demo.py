"""The demo's Designated Support Engineer: an engagement for a Platinum organisation on an
annual subscription, its engineer's calendar, and last month's and this month's logged time
(`supporthub demo` calls it once per database)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from supporthub.customers.models import Organisation
from supporthub.customers.selectors import local_date
from supporthub.dse.models import AbsenceKind, Engagement
from supporthub.dse.services import absence_add, engagement_create
from supporthub.dse.timelog import time_entry_log
from supporthub.staff.models import StaffMember
from supporthub.tickets.conversation import ticket_add_message
from supporthub.tickets.models import Channel, MessageKind, Ticket
from supporthub.tickets.opening import TicketRequest, ticket_open

SKU = "Support: Designated Support Engineer"
# subject, day of last month, minutes logged on it that month (on several days)
LAST_MONTH = [
    ("Index lifecycle policy review before go-live", 2, [90, 120, 60]),
    ("Shard sizing for the holiday peak", 6, [150, 180, 120, 90]),
    ("Upgrade plan 8.15 to 8.17", 12, [120, 90, 150]),
    ("Snapshot repository on the new storage account", 19, [60, 45, 75]),
]
THIS_MONTH = [("Cross-cluster search latency", [180, 240, 150, 180])]


def demo_engagement(
    *, organisation: Organisation, engineer: StaffMember, now: datetime
) -> Engagement | None:
    """Set up the demo engagement unless the organisation has one already."""
    if Engagement.objects.filter(organisation=organisation).exists():
        return None
    StaffMember.objects.filter(pk=engineer.pk).update(
        time_zone="Europe/Berlin", holiday_country="DE", holiday_subdivision="BE"
    )
    engineer.refresh_from_db()
    today = local_date(organisation, now)
    this_month = today.replace(day=1)
    start = this_month - relativedelta(months=1)
    engagement = engagement_create(
        organisation=organisation,
        engineer=engineer,
        subscriptions=list(organisation.subscriptions.all()),
        sku=SKU,
        start=start,
        end=start + relativedelta(months=12, days=-1),
        agreement="Demo order DSE-0001",
    )
    zone = ZoneInfo(organisation.time_zone)
    for subject, day, minutes in LAST_MONTH:
        received = datetime.combine(start.replace(day=day), time(10, 30), zone)
        case = _case(organisation, subject, received, engineer)
        for offset, amount in enumerate(minutes):
            time_entry_log(
                ticket=case,
                engineer=engineer,
                minutes=amount,
                on=_weekday(start.replace(day=day) + timedelta(days=2 * offset)),
                note="Reviewed with the customer's platform team",
            )
    # This month's work on its weekdays so far (today alone on the month's first days).
    days = [this_month + timedelta(n) for n in range((today - this_month).days + 1)]
    worked = [d for d in days if d.weekday() < 5][-4:] or [today]
    for subject, minutes in THIS_MONTH:
        opened = datetime.combine(worked[0], time(9, 30), zone)
        case = _case(organisation, subject, min(opened, now), engineer)
        for offset, amount in enumerate(minutes):
            time_entry_log(
                ticket=case, engineer=engineer, minutes=amount, on=worked[offset % len(worked)]
            )
    # The calendar ahead: an Administrative Day (training), time off, a company holiday.
    ahead = _weekday(today + timedelta(days=6))
    absence_add(
        kind=AbsenceKind.ADMINISTRATIVE_DAY,
        engineer=engineer,
        start=ahead,
        end=ahead,
        note="Elasticsearch engineering training",
    )
    off = _weekday(ahead + timedelta(days=7))
    absence_add(kind=AbsenceKind.TIME_OFF, engineer=engineer, start=off, end=off + timedelta(1))
    absence_add(
        kind=AbsenceKind.COMPANY_HOLIDAY,
        holiday_country="DE",
        start=_weekday(today + timedelta(days=25)),
        end=_weekday(today + timedelta(days=25)),
        note="Company day off (Germany)",
    )
    return engagement


def _weekday(day: date) -> date:
    while day.weekday() > 4:
        day += timedelta(days=1)
    return day


def _case(
    organisation: Organisation,
    subject: str,
    at: datetime,
    engineer: StaffMember,
) -> Ticket:
    ticket = ticket_open(
        request=TicketRequest(
            organisation=organisation,
            requester=organisation.support_contacts.order_by("pk").first(),
            subject=subject,
            body="Opened with our Designated Support Engineer.",
            severity=3,
            channel=Channel.HUB,
            received_at=at,
        )
    )
    ticket_add_message(
        ticket=ticket,
        kind=MessageKind.PUBLIC_REPLY,
        body="Thanks, I am on it; I will come back with a plan today.",
        author_staff=engineer,
        at=at + timedelta(minutes=40),
    )
    return ticket
