"""Idempotency-Key on POST /api/tickets: a retried create makes one ticket, at most."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from supporthub.api import services
from supporthub.api.models import ApiToken, IdempotencyRecord
from supporthub.api.services import api_token_create, request_hash
from supporthub.api.tests.conftest import Api, new_ticket
from supporthub.testing.world import World
from supporthub.tickets.models import Ticket

KEY = {"Idempotency-Key": "order-4711-attempt"}


def test_same_key_and_body_return_the_same_ticket(world: World, org_api: Api) -> None:
    body = new_ticket(world)
    first = org_api.post("/api/tickets", body, headers=KEY)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    # The same body, its keys in another order: the same request.
    reordered = dict(reversed(list(body.items())))
    again = org_api.post("/api/tickets", reordered, headers=KEY)
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["ETag"] == first["ETag"]
    assert Ticket.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert record.ticket_id == first.json()["id"]
    token = ApiToken.objects.get()
    assert record.caller == f"token:{token.pk}"


def test_same_key_with_another_body_is_422(world: World, org_api: Api) -> None:
    org_api.post("/api/tickets", new_ticket(world), headers=KEY)
    response = org_api.post("/api/tickets", new_ticket(world, subject="Other"), headers=KEY)
    assert response.status_code == 422
    assert "different request body" in response.json()["errors"]["Idempotency-Key"][0]
    assert Ticket.objects.count() == 1


def test_key_still_in_progress_is_409(world: World, org_api: Api) -> None:
    token = ApiToken.objects.get()
    body = new_ticket(world)
    # The first request has claimed the key and not finished: its claim has no ticket yet.
    IdempotencyRecord.objects.create(
        caller=f"token:{token.pk}", key=KEY["Idempotency-Key"], request_hash=request_hash(body)
    )
    response = org_api.post("/api/tickets", body, headers=KEY)
    assert response.status_code == 409
    assert "still in progress" in response.json()["detail"]
    assert response["Retry-After"] == "1"
    assert not Ticket.objects.exists()


def test_abandoned_claim_is_taken_over(world: World, org_api: Api) -> None:
    token = ApiToken.objects.get()
    body = new_ticket(world)
    claim = IdempotencyRecord.objects.create(
        caller=f"token:{token.pk}", key=KEY["Idempotency-Key"], request_hash=request_hash(body)
    )
    IdempotencyRecord.objects.filter(pk=claim.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    response = org_api.post("/api/tickets", body, headers=KEY)
    assert response.status_code == 201
    claim.refresh_from_db()
    assert claim.ticket_id == response.json()["id"]


def test_failed_create_frees_the_key_for_a_retry(world: World, org_api: Api) -> None:
    refused = org_api.post("/api/tickets", new_ticket(world, severity=9), headers=KEY)
    assert refused.status_code == 422
    assert not IdempotencyRecord.objects.exists()
    retried = org_api.post("/api/tickets", new_ticket(world), headers=KEY)
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried


def test_keys_belong_to_their_caller(world: World, org_api: Api) -> None:
    _, raw = api_token_create(name="Second integration", organisation=world.organisation)
    other = Api(Client(), raw)
    body = new_ticket(world)
    a = org_api.post("/api/tickets", body, headers=KEY).json()
    b = other.post("/api/tickets", body, headers=KEY).json()
    assert a["id"] != b["id"]
    assert Ticket.objects.count() == 2


def test_session_keys_are_the_logins(world: World) -> None:
    client = Client()
    client.login(request=HttpRequest(), username="carol", password="pw-for-tests")
    body = json.dumps({"subject": "Slow search", "body": "Queries take 10 s.", "severity": 3})
    first = client.post("/api/tickets", body, content_type="application/json", headers=KEY)
    again = client.post("/api/tickets", body, content_type="application/json", headers=KEY)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert IdempotencyRecord.objects.get().caller == f"user:{world.carol.user_id}"


def test_a_key_that_is_not_printable_ascii_is_422(world: World, org_api: Api) -> None:
    response = org_api.post(
        "/api/tickets", new_ticket(world), headers={"Idempotency-Key": "x" * 256}
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["errors"]


@pytest.mark.django_db(transaction=True)
def test_the_claim_is_committed_before_the_ticket_is_made(
    world: World, org_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent duplicate must see the claim while the first create is still running:
    another connection reads it, committed, from inside the ticket's transaction."""
    seen: list[bool] = []
    real = services.ticket_create

    def observed(**kwargs: Any) -> Ticket:
        def look() -> None:
            try:
                seen.append(IdempotencyRecord.objects.filter(ticket__isnull=True).exists())
            finally:
                connection.close()

        thread = threading.Thread(target=look)
        thread.start()
        thread.join()
        return real(**kwargs)

    monkeypatch.setattr(services, "ticket_create", observed)
    assert org_api.post("/api/tickets", new_ticket(world), headers=KEY).status_code == 201
    assert seen == [True]
    assert IdempotencyRecord.objects.get().ticket_id is not None
