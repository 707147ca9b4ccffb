"""Fixtures of the API tests: tokens for Initech (Carol's organisation) and for Alice."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from supporthub.api.services import api_token_create
from supporthub.testing.world import World


class Api:
    """A test client speaking JSON with one Authorization header."""

    def __init__(self, client: Client, token: str | None) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, headers: dict[str, str] | None = None, **query: Any) -> Any:
        return self.client.get(path, query, headers={**self.auth, **(headers or {})})

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(
            path,
            json.dumps(body),
            content_type="application/json",
            headers={**self.auth, **(headers or {})},
        )

    def patch(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.patch(
            path,
            json.dumps(body),
            content_type="application/json",
            headers={**self.auth, **(headers or {})},
        )

    def upload(self, path: str, data: dict[str, Any]) -> Any:
        return self.client.post(path, data, headers=self.auth)


@pytest.fixture
def org_api(world: World) -> Api:
    """An integration of Initech: an organisation-scoped token."""
    _, raw = api_token_create(name="CRM sync", organisation=world.organisation)
    return Api(Client(), raw)


@pytest.fixture
def other_org_api(world: World) -> Api:
    """An integration of Globex, the other organisation."""
    _, raw = api_token_create(name="Globex sync", organisation=world.other_organisation)
    return Api(Client(), raw)


@pytest.fixture
def staff_api(world: World) -> Api:
    """Alice's staff-scoped token (a support engineer sees every ticket)."""
    _, raw = api_token_create(name="Alice's script", staff_user=world.alice.user)
    return Api(Client(), raw)


@pytest.fixture
def anonymous_api() -> Api:
    return Api(Client(), None)


def new_ticket(world: World, **overrides: Any) -> dict[str, Any]:
    """A valid create body for Carol of Initech."""
    return {
        "subject": "Search is down",
        "body": "Every query returns 503 since 09:00.",
        "severity": 3,
        "type": "incident",
        "requester_email": world.carol.email,
        **overrides,
    }
