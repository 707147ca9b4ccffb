"""The faces: the console's engagements list and page (substitution by the account manager),
time logged from the case's page, the Hub's "Your Designated Support Engineer", and the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from supporthub.api.services import api_token_create
from supporthub.api.tests.conftest import Api
from supporthub.console.tests.helpers import client_for
from supporthub.customers.models import Subscription
from supporthub.dse.models import TimeEntry
from supporthub.dse.services import engagement_create
from supporthub.dse.tests.test_routing import TUESDAY_0900_LA
from supporthub.dse.tests.world import SKU, DseWorld, open_case
from supporthub.dse.timelog import time_entry_log
from supporthub.testing import factories as f

NOW = "2026-12-08T18:30:00Z"  # Tuesday 10:30 in Los Angeles: Dora is available


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
def test_the_engagements_list_reads_a_fixed_number_of_queries(dse: DseWorld) -> None:
    client = client_for(dse.world.alice)
    url = reverse("console:dse-engagements")

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = count()
    for n in range(3):
        other = f.organisation(name=f"Platinum {n}", time_zone="Europe/Paris", country="FR")
        f.subscribe(other, level="platinum")
        engagement_create(
            organisation=other,
            engineer=dse.eric,
            subscriptions=list(Subscription.objects.filter(organisation=other)),
            sku=SKU,
            start=date(2026, 1, 1),
            end=date(2026, 12, 31),
        )
    assert count() == few
    html = client.get(url).content.decode()
    assert "Globex" in html and "Platinum 2" in html and "0 of 25 hours used in December" in html


@pytest.mark.django_db
def test_the_engagement_page_shows_usage_availability_and_why_nothing_routes(
    dse: DseWorld,
) -> None:
    case = open_case(dse, TUESDAY_0900_LA)
    time_entry_log(ticket=case, engineer=dse.dora, minutes=750, on=date(2026, 12, 7))
    client = client_for(dse.world.alice)
    url = reverse("console:dse-engagement", args=[dse.engagement.pk])
    html = client.get(url).content.decode()
    assert "12.5 of 25 hours used in December 2026" in html
    assert "Available now" in html and case.reference in html
    assert 'data-testid="dse-why"' not in html
    Subscription.objects.filter(pk=dse.subscription.pk).update(term_end=date(2026, 11, 30))
    html = client.get(url).content.decode()
    assert "No subscription this engagement covers is active today" in html
    # Dora is not the account manager or the CS lead: no substitution form for her.
    assert 'id="substitute"' not in client_for(dse.dora).get(url).content.decode()


@pytest.mark.django_db
def test_the_account_manager_substitutes_and_others_may_not(dse: DseWorld) -> None:
    url = reverse("console:dse-substitute", args=[dse.engagement.pk])
    refused = client_for(dse.dora).post(url, {"engineer": dse.eric.pk, "reason": "x"})
    assert refused.status_code == 403
    answer = client_for(dse.world.amy).post(url, {"engineer": dse.eric.pk, "reason": ""})
    assert answer.status_code == 422
    done = client_for(dse.world.amy).post(
        url, {"engineer": dse.eric.pk, "reason": "Dora is on parental leave"}
    )
    assert done.status_code == 302
    dse.engagement.refresh_from_db()
    assert dse.engagement.engineer == dse.eric


@pytest.mark.django_db
def test_time_is_logged_from_the_case_page(dse: DseWorld) -> None:
    case = open_case(dse, TUESDAY_0900_LA)
    client = client_for(dse.dora)
    page = client.get(reverse("console:ticket", args=[case.pk])).content.decode()
    assert 'id="log-time"' in page and "0 of 25 hours used in December 2026" in page
    url = reverse("console:dse-log-time", args=[case.pk])
    answer = client.post(url, {"minutes": "90", "date": "2026-12-08", "note": "Heap dump"})
    assert answer.status_code == 302
    entry = TimeEntry.objects.get()
    assert (entry.minutes, entry.engineer, entry.created_by) == (90, dse.dora, dse.dora.user)
    page = client.get(reverse("console:ticket", args=[case.pk])).content.decode()
    assert "1.5 of 25 hours used in December 2026" in page
    assert "Time logged against the engagement" in page
    client.post(url, {"minutes": "0"})
    assert TimeEntry.objects.count() == 1
    # A case no engagement covers has no box.
    other = open_case(dse, TUESDAY_0900_LA)
    Subscription.objects.filter(pk=dse.subscription.pk).update(dse_covered=False)
    dse.engagement.subscriptions.clear()
    assert (
        'id="log-time"'
        not in client.get(reverse("console:ticket", args=[other.pk])).content.decode()
    )


@pytest.mark.django_db
def test_the_hub_shows_the_dse_to_the_customer_and_nothing_to_another(dse: DseWorld) -> None:
    case = open_case(dse, TUESDAY_0900_LA)
    time_entry_log(ticket=case, engineer=dse.dora, minutes=750, on=date(2026, 12, 7))
    html = client_for(dse.world.olga).get(reverse("portal:dse")).content.decode()
    assert "Dora" in html and "Available now" in html
    assert "12.5 of 25 hours used in December 2026" in html and case.reference in html
    initech = client_for(dse.world.carol).get(reverse("portal:dse")).content.decode()
    assert "Dora" not in initech and "has no Designated Support Engineer" in initech
    assert client_for(dse.world.olga).get(reverse("console:dse-engagements")).status_code == 403


@pytest.mark.django_db
def test_the_api_lists_engagements_usage_and_time_entries(dse: DseWorld) -> None:
    case = open_case(dse, TUESDAY_0900_LA)
    _, staff_token = api_token_create(name="Dora's script", staff_user=dse.dora.user)
    _, globex_token = api_token_create(name="Globex", organisation=dse.world.other_organisation)
    _, initech_token = api_token_create(name="Initech", organisation=dse.world.organisation)
    staff, globex, initech = (
        Api(Client(), staff_token),
        Api(Client(), globex_token),
        Api(Client(), initech_token),
    )
    created = staff.post("/api/dse/time-entries", {"ticket": case.pk, "minutes": 90, "note": "x"})
    assert created.status_code == 201, created.json()
    assert created.json()["counts_toward_limit"] and not created.json()["over_limit"]
    assert (
        globex.post("/api/dse/time-entries", {"ticket": case.pk, "minutes": 5}).status_code == 403
    )
    bad = staff.post("/api/dse/time-entries", {"ticket": case.pk, "minutes": 0})
    assert bad.status_code == 422
    listed = globex.get("/api/dse/engagements").json()
    assert [e["engineer"] for e in listed] == ["Dora"]
    assert listed[0]["available_now"] is True and listed[0]["state"] == "active"
    assert listed[0]["this_month"]["text"] == "1.5 of 25 hours used in December 2026"
    assert initech.get("/api/dse/engagements").json() == []
    pk = dse.engagement.pk
    assert initech.get(f"/api/dse/engagements/{pk}").status_code == 404
    usage = globex.get(f"/api/dse/engagements/{pk}/usage", month="2026-12").json()
    assert usage["cases"][0]["reference"] == case.reference and usage["percent"] == 6
    entries = globex.get(f"/api/dse/engagements/{pk}/time-entries").json()
    assert entries[0]["minutes"] == 90 and entries[0]["note"] is None  # notes are for staff
    assert staff.get(f"/api/dse/engagements/{pk}/time-entries").json()[0]["note"] == "x"
    assert globex.get(f"/api/dse/engagements/{pk}/usage", month="2026-13").status_code == 422
