"""Who may call the API: bearer tokens (hashed, revocable) and the pages' own session."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.test.utils import CaptureQueriesContext

from supporthub.api.models import ApiToken
from supporthub.api.services import api_token_create, api_token_revoke
from supporthub.api.tests.conftest import Api, new_ticket
from supporthub.testing import factories as f
from supporthub.testing.world import World


def test_no_credentials_is_a_json_401_with_a_bearer_challenge(anonymous_api: Api) -> None:
    for response in (
        anonymous_api.get("/api/tickets"),
        anonymous_api.post("/api/tickets", {"subject": "x"}),
    ):
        assert response.status_code == 401
        assert response["Content-Type"].startswith("application/json")
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in response.json()["detail"]


def test_unknown_token_is_401(world: World) -> None:
    response = Api(Client(), "sh_not-a-token").get("/api/tickets")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown API token."}


def test_revoked_token_is_401_naming_it(world: World) -> None:
    token, raw = api_token_create(name="Old sync", organisation=world.organisation)
    api = Api(Client(), raw)
    assert api.get("/api/tickets").status_code == 200
    api_token_revoke(token=token)
    response = api.get("/api/tickets")
    assert response.status_code == 401
    assert token.prefix in response.json()["detail"]
    assert "revoked" in response.json()["detail"]


def test_token_of_a_login_no_longer_staff_is_401(world: World) -> None:
    _, raw = api_token_create(name="Script", staff_user=world.alice.user)
    world.alice.is_active = False
    world.alice.save()
    response = Api(Client(), raw).get("/api/tickets")
    assert response.status_code == 401
    assert "no longer staff" in response.json()["detail"]


def test_tokens_are_stored_as_their_sha256_only(world: World) -> None:
    token, raw = api_token_create(name="CRM sync", organisation=world.organisation)
    assert raw.startswith("sh_") and len(raw) > 40
    token.refresh_from_db()
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.prefix == raw[:10]
    stored = [str(v) for v in ApiToken.objects.values_list(flat=False).get(pk=token.pk)]
    assert raw not in stored


def test_a_token_cannot_be_scoped_to_a_login_that_is_not_staff(world: World) -> None:
    from django.core.exceptions import ValidationError

    assert world.carol.user is not None
    with pytest.raises(ValidationError, match="not an active staff login"):
        api_token_create(name="Sneaky", staff_user=world.carol.user)


def test_last_use_is_written_at_most_once_a_minute(world: World) -> None:
    token, raw = api_token_create(name="CRM sync", organisation=world.organisation)
    api = Api(Client(), raw)
    start = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        api.get("/api/tickets")
    token.refresh_from_db()
    assert token.last_used_at == start

    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        with CaptureQueriesContext(connection) as queries:
            api.get("/api/tickets")
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    token.refresh_from_db()
    assert token.last_used_at == start

    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        api.get("/api/tickets")
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(seconds=61)


def test_organisation_token_sees_only_its_organisation(
    world: World, org_api: Api, other_org_api: Api
) -> None:
    mine = org_api.post("/api/tickets", new_ticket(world)).json()
    assert other_org_api.get(f"/api/tickets/{mine['id']}").status_code == 404
    assert other_org_api.get("/api/tickets").json()["items"] == []
    assert [t["id"] for t in org_api.get("/api/tickets").json()["items"]] == [mine["id"]]


def test_staff_token_acts_as_its_staff_login(world: World, org_api: Api) -> None:
    mine = org_api.post("/api/tickets", new_ticket(world)).json()
    _, alice_raw = api_token_create(name="Alice", staff_user=world.alice.user)
    assert Api(Client(), alice_raw).get(f"/api/tickets/{mine['id']}").status_code == 200
    # A sales rep works no tickets of Initech: the token sees what the login would see.
    from supporthub.staff.models import Role

    sam = f.staff(user__username="sam", role_codes=[Role.SALES_REP])
    _, sam_raw = api_token_create(name="Sam", staff_user=sam.user)
    assert Api(Client(), sam_raw).get(f"/api/tickets/{mine['id']}").status_code == 404


def test_session_reads_need_no_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.login(request=HttpRequest(), username="carol", password="pw-for-tests")
    assert client.get("/api/tickets").status_code == 200


def test_session_writes_need_the_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.login(request=HttpRequest(), username="carol", password="pw-for-tests")
    body = new_ticket(world)
    refused = client.post("/api/tickets", body, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    client.get("/api/docs")  # any page that renders the token sets the cookie
    token = client.cookies["csrftoken"].value
    created = client.post(
        "/api/tickets", body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert created.status_code == 201, created.content
    assert created.json()["channel"] == "hub"


def test_login_with_no_role_is_403(world: World) -> None:
    f.user(username="nobody")
    client = Client()
    client.login(request=HttpRequest(), username="nobody", password="pw-for-tests")
    response = client.get("/api/tickets")
    assert response.status_code == 403
    assert "no Support Hub role" in response.json()["detail"]
