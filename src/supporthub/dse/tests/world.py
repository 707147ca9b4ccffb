"""The DSE tests' world: Globex (Platinum, annual, Europe/Berlin) with Dora as its Designated
Support Engineer, who works from Los Angeles with California's holidays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from supporthub.customers.models import Subscription
from supporthub.dse.models import Engagement
from supporthub.dse.services import engagement_create
from supporthub.staff.models import Role, StaffMember
from supporthub.testing import factories as f
from supporthub.testing.world import World
from supporthub.tickets.models import Channel, Ticket
from supporthub.tickets.opening import TicketRequest, ticket_open

LA = ZoneInfo("America/Los_Angeles")
SKU = "Support: Designated Support Engineer"


@dataclass
class DseWorld:
    world: World
    engagement: Engagement
    dora: StaffMember  # the DSE: America/Los_Angeles, US-CA holidays
    eric: StaffMember  # another support engineer
    subscription: Subscription


def make_dse_world(world: World) -> DseWorld:
    dora = f.staff(
        user__username="dora",
        user__email="dora@vendor.example",
        display_name="Dora",
        role_codes=[Role.SUPPORT_ENGINEER],
        time_zone="America/Los_Angeles",
        holiday_country="US",
        holiday_subdivision="CA",
    )
    eric = f.staff(user__username="eric", display_name="Eric", role_codes=[Role.SUPPORT_ENGINEER])
    globex = world.other_organisation
    globex.account_manager = world.amy
    globex.save(update_fields=["account_manager"])
    subscription = Subscription.objects.get(organisation=globex)
    engagement = engagement_create(
        organisation=globex,
        engineer=dora,
        subscriptions=[subscription],
        sku=SKU,
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
    )
    subscription.refresh_from_db()
    return DseWorld(world, engagement, dora, eric, subscription)


@pytest.fixture
def dse(world: World) -> DseWorld:
    return make_dse_world(world)


def open_case(
    dse: DseWorld, at: datetime, *, channel: Channel = Channel.HUB, severity: int = 3
) -> Ticket:
    return ticket_open(
        request=TicketRequest(
            organisation=dse.world.other_organisation,
            requester=dse.world.olga,
            subject="Shard allocation stuck",
            body="Since the upgrade.",
            severity=severity,
            channel=channel,
            received_at=at,
        )
    )


__all__ = ["LA", "SKU", "DseWorld", "dse", "make_dse_world", "open_case"]
