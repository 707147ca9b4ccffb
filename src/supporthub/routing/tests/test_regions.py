"""Follow the sun (seed 000): US 9-5 America/Los_Angeles, EU 9-5 Europe/Paris, Monday to
Friday, each with its own holidays; a ticket goes to the region on duty, else the next to
open."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from supporthub.policies.models import PolicyVersion
from supporthub.routing.regions import region_for
from supporthub.sla.models import Closure
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket
from supporthub.tickets.models import Channel


@pytest.fixture
def b2b(db: None) -> PolicyVersion:
    return f.load_example_policy("b2b-customer-success")


@pytest.mark.parametrize(
    ("at", "region", "why"),
    [
        (datetime(2025, 3, 4, 18, 0), "us", "Tuesday 10:00 in Los Angeles"),
        (datetime(2025, 3, 4, 9, 0), "eu", "Tuesday 10:00 in Paris"),
        (datetime(2025, 3, 4, 3, 0), "eu", "nobody on duty; Paris opens first"),
        (datetime(2025, 3, 8, 12, 0), "eu", "Saturday; Paris opens first on Monday"),
        (datetime(2025, 11, 27, 18, 0), "eu", "Thanksgiving: US closed, Paris opens Friday"),
        (datetime(2025, 7, 14, 9, 0), "us", "Bastille Day: Paris closed, LA opens the same day"),
        (datetime(2025, 3, 17, 16, 30), "us", "09:30 PDT: LA already on summer time"),
        (datetime(2025, 2, 18, 16, 30), "us", "08:30 PST: LA opens at 17:00 UTC, Paris tomorrow"),
        (datetime(2025, 2, 17, 16, 30), "eu", "Presidents' Day: LA closed, Paris opens Tuesday"),
    ],
)
def test_the_region_on_duty_else_the_next_to_open(
    b2b: PolicyVersion, at: datetime, region: str, why: str
) -> None:
    found = region_for(b2b.document(), at.replace(tzinfo=UTC))
    assert found is not None and found.key == region, why


def test_a_company_closure_of_the_regions_country_counts(b2b: PolicyVersion) -> None:
    at = datetime(2025, 3, 4, 18, 0, tzinfo=UTC)  # Tuesday 10:00 in Los Angeles
    Closure.objects.create(date=date(2025, 3, 4), name="US offsite", holiday_country="US")
    found = region_for(b2b.document(), at)
    assert found is not None and found.key == "eu"


def test_a_policy_without_regions_routes_nowhere(db: None) -> None:
    cloud = f.load_example_policy("cloud-support").document()
    assert region_for(cloud, datetime(2025, 3, 4, 18, 0, tzinfo=UTC)) is None


def test_a_new_ticket_is_routed_and_the_audit_says_where(b2b: PolicyVersion) -> None:
    acme = f.organisation(name="Acme", time_zone="America/Los_Angeles")
    f.subscribe(acme, policy_key="b2b-customer-success", level="customer-success")
    ticket = open_ticket(
        organisation=acme,
        requester=f.add_contact(acme, "Ava"),
        subject="Orders stuck",
        body="",
        severity=2,
        channel=Channel.HUB,
        received_at=datetime(2025, 3, 4, 9, 0, tzinfo=UTC),
    )
    assert ticket.region == "eu"
    assert ticket.audit.get(code="ticket.opened").data["region"] == "eu"
