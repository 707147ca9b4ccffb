"""The back office sets up engagements under the package's terms (a refusal changes nothing
and says why) and keeps the subscriptions' covered flag; an Administrative Day past the cap
is refused there too."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from supporthub.customers.models import Subscription
from supporthub.dse.models import Absence, Engagement
from supporthub.dse.tests.world import SKU, DseWorld
from supporthub.testing.world import World


def _admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


def _form(world: World, subscription: Subscription, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "organisation": subscription.organisation_id,
        "engineer": world.alice.pk,
        "subscriptions": [subscription.pk],
        "sku": SKU,
        "start": "2026-01-01",
        "end": "2026-12-31",
        "monthly_limit_hours": "",
        "agreement": "",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_an_engagement_is_set_up_checked_and_deleted_in_the_back_office(world: World) -> None:
    client = _admin()
    add = reverse("admin:dse_engagement_add")
    gold = Subscription.objects.get(organisation=world.organisation)
    refused = client.post(add, _form(world, gold, organisation=world.organisation.pk))
    assert refused.status_code == 200
    assert "the package applies only to Platinum and Enterprise" in refused.content.decode()
    assert not Engagement.objects.exists()
    platinum = Subscription.objects.get(organisation=world.other_organisation)
    assert client.post(add, _form(world, platinum)).status_code == 302
    engagement = Engagement.objects.get()
    assert engagement.monthly_limit_hours == 25 and engagement.created_by is not None
    platinum.refresh_from_db()
    assert platinum.dse_covered
    client.post(reverse("admin:dse_engagement_delete", args=[engagement.pk]), {"post": "yes"})
    platinum.refresh_from_db()
    assert not Engagement.objects.exists() and not platinum.dse_covered


@pytest.mark.django_db
def test_an_administrative_day_past_the_cap_is_refused_in_the_back_office(dse: DseWorld) -> None:
    client = _admin()
    add = reverse("admin:dse_absence_add")

    def post(start: str, end: str) -> str:
        return client.post(
            add,
            {
                "kind": "administrative_day",
                "engineer": dse.dora.pk,
                "holiday_country": "",
                "holiday_subdivision": "",
                "start": start,
                "end": end,
                "note": "",
            },
        ).content.decode()

    post("2026-03-02", "2026-03-20")  # 15 Business Days
    post("2026-03-23", "2026-03-23")  # 16
    assert Absence.objects.count() == 2
    page = post("2026-03-24", "2026-03-24")
    assert "this would make 17" in page and "which allows 16" in page
    assert Absence.objects.count() == 2
