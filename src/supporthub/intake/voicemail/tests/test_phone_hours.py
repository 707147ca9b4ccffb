"""The Hub shows the policy's phone line and hours, in the line's zone and the viewer's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from supporthub.intake.voicemail.selectors import phone_support
from supporthub.intake.voicemail.tests.conftest import B2B
from supporthub.testing.world import World

pytestmark = pytest.mark.django_db

# Tuesday 25 November 2025, 17:30 UTC: 09:30 in Los Angeles (the line is open), 11:30 in
# Chicago (Acme's zone). Thursday 27 November is Thanksgiving, a US holiday.
TUESDAY = datetime(2025, 11, 25, 17, 30, tzinfo=UTC)
SATURDAY = datetime(2025, 11, 29, 12, 0, tzinfo=UTC)


def _hub(client: Client, username: str) -> str:
    client.force_login(User.objects.get(username=username))
    response = client.get(reverse("portal:tickets"))
    assert response.status_code == 200
    return str(response.content.decode())


def test_the_b2b_hub_shows_the_phone_number_and_hours_in_both_zones(
    b2b: B2B, client: Client
) -> None:
    with time_machine.travel(TUESDAY, tick=False):
        page = _hub(client, "bob")
    assert 'data-testid="phone-support"' in page
    assert "1-888-585-5574" in page
    assert 'href="tel:+18885855574"' in page
    assert "09:00-17:00 on Business Days (Mon, Tue, Wed, Thu, Fri) America/Los_Angeles" in page
    assert "open now" in page
    assert "your time (America/Chicago)" in page
    # Today's hours in Bob's zone (Chicago) and in the line's (Los Angeles).
    assert "Tue 25 Nov, 11:00–19:00 CST" in page
    assert "Tue 25 Nov, 09:00–17:00 PST" in page
    # Thanksgiving is skipped; Friday follows Wednesday.
    assert "Wed 26 Nov, 11:00–19:00 CST" in page
    assert "Thu 27 Nov" not in page
    assert "Fri 28 Nov, 11:00–19:00 CST" in page
    assert "leave a voicemail, it creates a ticket" in page


def test_the_hours_follow_the_contacts_own_zone(b2b: B2B, client: Client) -> None:
    type(b2b.bob).objects.filter(pk=b2b.bob.pk).update(time_zone="Europe/Paris")
    with time_machine.travel(TUESDAY, tick=False):
        page = _hub(client, "bob")
    assert "your time (Europe/Paris)" in page
    assert "Tue 25 Nov, 18:00–Wed 26 Nov, 02:00 CET" in page


def test_the_line_shows_closed_at_the_weekend(b2b: B2B) -> None:
    with time_machine.travel(SATURDAY, tick=False):
        support = phone_support(organisation=b2b.organisation, now=SATURDAY)
    assert support is not None
    assert not support.open_now
    assert support.openings[0].starts_at == datetime(2025, 12, 1, 17, 0, tzinfo=UTC)


def test_the_cloud_hub_shows_the_policys_phone_message_instead(
    world: World, client: Client
) -> None:
    with time_machine.travel(TUESDAY, tick=False):
        page = _hub(client, "carol")
    assert 'data-testid="phone-support"' in page
    assert (
        "A request for Support Services must be submitted through the Support Hub or by email "
        "before engaging an Elastic resource by phone." in page
    )
    assert "Phone support</h2>" not in page
    assert "tel:" not in page
