"""Small helpers of the rhythm and report tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.test import Client

from supporthub.customers.models import Organisation, Subscription
from supporthub.dse.models import Engagement
from supporthub.staff.models import StaffMember


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def login(client: Client, user: object) -> None:
    assert isinstance(user, User)
    client.force_login(user)


def engagement_of(
    organisation: Organisation,
    engineer: StaffMember,
    *,
    start: date = date(2026, 1, 1),
    end: date = date(2026, 12, 31),
    limit: Decimal = Decimal(25),
) -> Engagement:
    """An engagement covering every subscription of `organisation`."""
    engagement = Engagement.objects.create(
        organisation=organisation,
        engineer=engineer,
        sku="Support: Designated Support Engineer",
        start=start,
        end=end,
        monthly_limit_hours=limit,
        created_at=utc(2025, 12, 1),
    )
    engagement.subscriptions.set(Subscription.objects.filter(organisation=organisation))
    return engagement
