"""Every error is JSON with a clear message; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from supporthub.api import services
from supporthub.api.tests.conftest import Api, new_ticket
from supporthub.testing.world import World


def test_an_unexpected_exception_is_a_plain_500_and_is_logged(
    world: World, org_api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(**kwargs: Any) -> None:
        raise RuntimeError("secret internals: /srv/db password=hunter2")

    monkeypatch.setattr(services, "ticket_create", explode)
    with caplog.at_level(logging.ERROR, logger="supporthub.api.api"):
        response = org_api.post("/api/tickets", new_ticket(world))
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal error"}
    assert b"hunter2" not in response.content and b"Traceback" not in response.content
    logged = [r for r in caplog.records if r.name == "supporthub.api.api"]
    assert logged and logged[0].exc_info is not None
    assert "hunter2" in str(logged[0].exc_info[1])


def test_unknown_fields_and_bad_types_are_422_naming_the_field(world: World, org_api: Api) -> None:
    response = org_api.post("/api/tickets", new_ticket(world, severity=[1], urgency="high"))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"severity", "urgency"}
    assert errors["urgency"] == ["Unknown field; this operation does not take it."]
    assert response.json()["detail"].startswith("severity: ")


def test_nested_errors_are_named_by_their_path(world: World, staff_api: Api) -> None:
    ticket = staff_api.post(
        "/api/tickets", new_ticket(world, organisation_id=world.organisation.pk)
    ).json()
    response = staff_api.patch(
        f"/api/tickets/{ticket['id']}", {"escalate": {"why": "x"}}, headers={"If-Match": "1"}
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"escalate.reason", "escalate.why"}


def test_a_body_that_is_not_json_is_400(world: World, org_api: Api) -> None:
    response = org_api.client.post(
        "/api/tickets", "{nope", content_type="application/json", headers=org_api.auth
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_a_json_body_that_is_not_an_object_is_422(world: World, org_api: Api) -> None:
    response = org_api.post("/api/tickets", ["subject", "body"])
    assert response.status_code == 422
    assert response.json()["detail"]


def test_not_found_is_json(world: World, org_api: Api) -> None:
    assert org_api.get("/api/tickets/999999").json() == {"detail": "No such ticket."}
    unknown = org_api.get("/api/nothing/here")
    assert unknown.status_code == 404
    assert "/api/docs" in unknown.json()["detail"]


def test_ids_out_of_range_are_422_not_a_database_error(org_api: Api) -> None:
    response = org_api.get(f"/api/tickets/{2**70}")
    assert response.status_code == 422
    assert "ticket_id" in response.json()["errors"]


def test_a_service_refusal_without_a_field_is_a_plain_detail(world: World, org_api: Api) -> None:
    from datetime import date

    sub = world.organisation.subscriptions.get()
    sub.term_end = date(2025, 1, 1)
    sub.save()
    body = new_ticket(world)
    del body["severity"]
    response = org_api.post("/api/tickets", body)
    assert response.status_code == 422
    assert "has no subscription in force" in response.json()["detail"]
    assert "errors" not in response.json()


def test_the_docs_and_schema_are_served_from_our_own_origin(client: Client) -> None:
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/tickets", "/api/tickets/{ticket_id}", "/api/import/tickets"} <= set(paths)
    page = client.get("/api/docs").content.decode()
    assert "cdn" not in page.lower()
    assert "/api/docs/assets/swagger-ui-bundle.js" in page
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and asset["Content-Type"] == "text/javascript"
    assert client.get("/api/docs/assets/..%2Fsettings.py").status_code == 404
