"""Property test of every operation in the OpenAPI schema: whatever schemathesis sends (valid
or not), the API answers as its schema says: no server error, a declared status, content type,
headers and body, and a refusal of every request the schema calls invalid."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from supporthub.api.schemas import MAX_ID
from supporthub.api.services import api_token_create
from supporthub.api.tests.conftest import Api, new_ticket
from supporthub.testing.world import World

# Refusals schemathesis does not count by default: 413 for a body over the declared limit (an
# invalid body may be a large one), 428 for the missing If-Match the schema requires.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    *["400", "401", "403", "404", "405", "406", "409", "413", "415"],
                    *["422", "428", "429", "5xx"],
                ]
            },
            "missing_required_header": {
                "expected-statuses": ["400", "401", "403", "406", "415", "422", "428"]
            },
        }
    }
)
# Not positive_data_acceptance: the product refuses some requests the schema cannot rule out
# (no subscription in force on an imported ticket's date, an unknown staff id) with a 422, and
# schemathesis 4.32's coverage phase labels cases whose body it made invalid as valid.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
]

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application(), config=CONFIG)


@contextmanager
def _connection_kept() -> Iterator[None]:
    """Django closes the database connection around each WSGI request; the test's
    transaction lives on it, so keep it open, as Django's own test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(world: World) -> str:
    return api_token_create(name="schemathesis", staff_user=world.alice.user)[1]


@pytest.fixture
def real_ticket_id(world: World, staff_token: str) -> int:
    """A ticket that exists, so operations on one get past the lookup."""
    from django.test import Client

    api = Api(Client(), staff_token)
    created = api.post("/api/tickets", new_ticket(world, organisation_id=world.organisation.pk))
    assert created.status_code == 201
    ticket_id = int(created.json()["id"])
    api.post(f"/api/tickets/{ticket_id}/messages", {"body": "A first reply"})
    return ticket_id


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_every_operation_answers_as_its_schema_says(
    case: Any, staff_token: str, real_ticket_id: int
) -> None:
    # Half the valid ids aim at the real ticket (random ids almost never exist); invalid ids
    # (strings, negatives, past the largest key) are left as generated, so stay invalid.
    generated = (case.path_parameters or {}).get("ticket_id")
    if isinstance(generated, int) and 1 <= generated <= MAX_ID and generated % 2:
        case.path_parameters["ticket_id"] = real_ticket_id
    with _connection_kept():
        response = case.call(headers={"Authorization": f"Bearer {staff_token}"})
    case.validate_response(response, checks=CHECKS)
