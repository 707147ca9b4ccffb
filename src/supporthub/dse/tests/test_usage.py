"""The month's usage: minutes counted against the Monthly Limit, per case, in the
organisation's calendar month; other engineers' entries are kept but not counted."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from supporthub.customers.models import Subscription
from supporthub.dse.models import Engagement, TimeEntry
from supporthub.dse.selectors import minutes_used, month_of, month_usage
from supporthub.testing import factories as f
from supporthub.testing.world import World
from supporthub.tickets.models import Channel, Ticket
from supporthub.tickets.opening import TicketRequest, ticket_open


@pytest.mark.django_db
def test_usage_sums_the_month_per_case_and_leaves_other_months_and_engineers_out(
    world: World,
) -> None:
    globex = world.other_organisation  # Platinum, Europe/Berlin
    engagement = Engagement.objects.create(
        organisation=globex,
        engineer=world.alice,
        sku="Support: Designated Support Engineer",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        monthly_limit_hours=Decimal(25),
        created_at=datetime(2025, 12, 1, tzinfo=UTC),
    )
    engagement.subscriptions.set(Subscription.objects.filter(organisation=globex))
    first, second = (
        ticket_open(
            request=TicketRequest(
                organisation=globex,
                requester=world.olga,
                subject=subject,
                body="",
                severity=3,
                channel=Channel.HUB,
                received_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
            )
        )
        for subject in ("Slow queries", "Snapshot fails")
    )
    eric = f.staff(user__username="eric")

    def log(ticket: Ticket, minutes: int, day: date, *, counts: bool = True) -> None:
        TimeEntry.objects.create(
            engagement=engagement,
            ticket=ticket,
            engineer=world.alice if counts else eric,
            minutes=minutes,
            date=day,
            counts_toward_limit=counts,
            created_at=datetime(2026, 12, 20, tzinfo=UTC),
        )

    log(first, 300, date(2026, 12, 1))
    log(first, 150, date(2026, 12, 31))
    log(second, 300, date(2026, 12, 15))
    log(second, 45, date(2026, 12, 16), counts=False)  # another engineer, for the record
    log(second, 600, date(2026, 11, 30))  # November
    log(first, 600, date(2027, 1, 1))  # January

    usage = month_usage(engagement=engagement, month=date(2026, 12, 17))
    assert usage.month == date(2026, 12, 1)
    assert usage.minutes == 750 and usage.hours == Decimal("12.50")
    assert usage.describe() == "12.5 of 25 hours used in December 2026"
    assert usage.percent == 50 and not usage.reached
    assert [(c.reference, c.minutes, c.minutes_logged, c.entries) for c in usage.cases] == [
        (first.reference, 450, 450, 2),
        (second.reference, 300, 345, 2),
    ]
    assert minutes_used(engagement_id=engagement.pk, month=date(2026, 12, 1)) == 750
    assert minutes_used(engagement_id=engagement.pk, month=date(2026, 11, 1)) == 600
    # 23:30 UTC on 31 December is already January in Berlin.
    assert month_of(engagement, datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == date(2027, 1, 1)
