"""The paging tests' world: Acme on the B2B policy (US and EU regions), a rotation per
region, instants inside and outside the regions' hours, and a local HTTP receiver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
import time_machine

from supporthub.customers.models import Organisation, SupportContact
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.routing.models import Rotation, RotationMember, Weekday
from supporthub.routing.tests.receiver import Receiver
from supporthub.staff.models import Role, StaffMember
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket
from supporthub.testing.world import World
from supporthub.tickets.models import Channel, Ticket

# Tuesday 4 March 2025, 03:00 UTC: 19:00 Monday in Los Angeles, 04:00 in Paris: nobody is on
# duty and Paris opens first, so the ticket goes to the EU region.
NIGHT = datetime(2025, 3, 4, 3, 0, tzinfo=UTC)
# Tuesday 4 March 2025, 18:00 UTC: 10:00 in Los Angeles, the US region is on duty.
US_DAY = datetime(2025, 3, 4, 18, 0, tzinfo=UTC)
# Tuesday 18 February 2025, 16:30 UTC: Paris closed at 16:00 UTC, Los Angeles opens at 17:00.
BETWEEN = datetime(2025, 2, 18, 16, 30, tzinfo=UTC)
ROUTING_KEY = "R0123456789abcdef0123456789abcde"


@pytest.fixture
def acme(world: World) -> tuple[Organisation, SupportContact]:
    organisation = f.organisation(name="Acme", time_zone="America/Los_Angeles")
    f.subscribe(organisation, policy_key="b2b-customer-success", level="customer-success")
    return organisation, f.add_contact(organisation, "Ava")


def make_rotation(name: str, region: str, zone: str, *people: StaffMember) -> Rotation:
    rotation = Rotation.objects.create(
        name=name,
        region=region,
        time_zone=zone,
        handoff_weekday=Weekday.MONDAY,
        handoff_time=time(9, 0),
        starts_on=date(2025, 1, 6),
    )
    for position, person in enumerate(people):
        RotationMember.objects.create(rotation=rotation, staff=person, position=position)
    return rotation


@pytest.fixture
def rotations(world: World) -> dict[str, Rotation]:
    emil = f.staff(user__username="emil", role_codes=[Role.SUPPORT_ENGINEER])
    return {
        "us": make_rotation("US on call", "us", "America/Los_Angeles", world.alice),
        "eu": make_rotation("EU on call", "eu", "Europe/Paris", emil),
    }


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    with Receiver() as running:
        settings.PAGING_PAGERDUTY_EVENTS_URL = f"{running.url}/v2/enqueue"
        settings.PAGING_HTTP_TIMEOUT = 0.5
        yield running


def open_at(acme: tuple[Organisation, SupportContact], at: datetime, severity: int = 1) -> Ticket:
    organisation, ava = acme
    with time_machine.travel(at, tick=False):
        return open_ticket(
            organisation=organisation,
            requester=ava,
            subject="Checkout is down",
            body="No order since midnight.",
            severity=severity,
            channel=Channel.HUB,
        )


def codes(ticket: Ticket) -> list[str]:
    return list(ticket.audit.filter(code__startswith="oncall.").values_list("code", flat=True))


def outbox(ticket: Ticket, kind: OutboxKind) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(ticket=ticket, kind=kind).order_by("pk"))
