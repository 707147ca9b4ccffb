"""The API says what it does: where the OpenAPI schema says a request is wrong, the server
refuses it, and what the server refuses (and how) the schema declares."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from supporthub.api.tests.conftest import Api, new_ticket
from supporthub.testing.world import World
from supporthub.tickets.models import Status, Ticket


@pytest.fixture
def openapi(client: Client) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _validator(openapi: dict[str, Any], component: str) -> Any:
    """A JSON Schema validator of one of the schema's components (with their references)."""
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{component}", "components": openapi["components"]}
    )


def _parameter(openapi: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    (found,) = [p for p in openapi["paths"][path][method]["parameters"] if p["name"] == name]
    return dict(found)


@pytest.fixture
def ticket(world: World, staff_api: Api) -> dict[str, Any]:
    created = staff_api.post(
        "/api/tickets", new_ticket(world, organisation_id=world.organisation.pk)
    )
    assert created.status_code == 201
    return dict(created.json())


def test_if_match_is_declared_required_and_its_absence_is_428(
    openapi: dict[str, Any], ticket: dict[str, Any], staff_api: Api
) -> None:
    if_match = _parameter(openapi, "/api/tickets/{ticket_id}", "patch", "If-Match")
    assert if_match["required"] is True
    assert if_match["schema"]["type"] == "string"
    assert "428" in openapi["paths"]["/api/tickets/{ticket_id}"]["patch"]["responses"]

    response = staff_api.patch(f"/api/tickets/{ticket['id']}", {"status": "open"})
    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]
    assert Ticket.objects.get().status == Status.NEW


def test_the_schema_refuses_the_changes_the_server_refuses(
    openapi: dict[str, Any], ticket: dict[str, Any], staff_api: Api
) -> None:
    patch = _validator(openapi, "TicketPatch")
    url = f"/api/tickets/{ticket['id']}"
    refused: list[dict[str, Any]] = [
        {},  # nothing to change
        {"status": None},
        {"severity": 2},  # without a reason
        {"severity_reason": "why"},  # without a severity
        {"status": "solved", "out_of_scope": {"exclusion": "training"}},
    ]
    for body in refused:
        assert not patch.is_valid(body), body
        response = staff_api.patch(url, body, headers={"If-Match": "1"})
        assert response.status_code == 422, (body, response.content)
    assert Ticket.objects.get().version == 1
    for body in (
        {"status": "open"},
        {"assignee_id": None},
        {"severity": 2, "severity_reason": "x"},
    ):
        assert patch.is_valid(body), body


@pytest.mark.parametrize(
    "value", ["0.5", "1700000000", "2026-03-04", "2026-03-04 12:00:00Z", "2026-03-04T12:00Z"]
)
def test_breaching_before_takes_rfc3339_only_and_names_itself_otherwise(
    openapi: dict[str, Any], staff_api: Api, value: str
) -> None:
    declared = _parameter(openapi, "/api/tickets", "get", "breaching_before")["schema"]
    assert {"type": "string", "format": "date-time"} in declared["anyOf"]
    assert "RFC 3339" in declared["description"]

    response = staff_api.get("/api/tickets", breaching_before=value)
    assert response.status_code == 422, response.content
    assert "ISO 8601" in response.json()["errors"]["breaching_before"][0]
    fine = staff_api.get("/api/tickets", breaching_before="2026-03-04T12:00:00+01:00")
    assert fine.status_code == 200


def test_an_imported_instant_sent_as_a_number_is_422_naming_it(
    world: World, staff_api: Api
) -> None:
    item = {
        "organisation_id": world.organisation.pk,
        "subject": "Imported",
        "severity": 1,
        "channel": "email",
        "opened_at": 1772456400,  # a Unix time is not the declared date-time
        "status": "solved",
        "external_id": "ZD-1",
    }
    response = staff_api.post("/api/import/tickets", {"tickets": [item]})
    assert response.status_code == 422
    assert "tickets[0].opened_at" in response.json()["errors"]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("spelling", ["%0A{id}", "{id}%0A", "%20{id}", "+{id}", "{id}.0", "{id}_0"])
def test_a_ticket_id_in_the_path_is_digits_or_refused(
    ticket: dict[str, Any], staff_api: Api, spelling: str
) -> None:
    path = "/api/tickets/" + spelling.format(id=ticket["id"])
    for url in (path, path + "/messages"):
        response = staff_api.get(url)
        assert response.status_code == 422, (url, response.content)
        assert "ticket_id" in response.json()["errors"]
    # With a slash after it, no operation matches at all (a JSON 404, not the ticket).
    assert staff_api.get(path + "/").status_code == 404
    assert staff_api.get(f"/api/tickets/{ticket['id']}").status_code == 200


def test_numbers_in_the_query_and_a_form_are_digits_or_refused(
    ticket: dict[str, Any], staff_api: Api
) -> None:
    assert "limit" in staff_api.get("/api/tickets", limit="\n5").json()["errors"]
    assert "severity" in staff_api.get("/api/tickets", severity="3.0").json()["errors"]
    upload = staff_api.client.post(
        f"/api/tickets/{ticket['id']}/attachments",
        {"file": SimpleUploadedFile("note.txt", b"hello"), "message_id": "null"},
        headers=staff_api.auth,
    )
    assert upload.status_code == 422 and "message_id" in upload.json()["errors"]


def test_the_attachment_form_declares_message_id_as_an_integer_never_null(
    openapi: dict[str, Any],
) -> None:
    body = openapi["paths"]["/api/tickets/{ticket_id}/attachments"]["post"]["requestBody"]
    message_id = body["content"]["multipart/form-data"]["schema"]["properties"]["message_id"]
    assert message_id["type"] == "integer" and "anyOf" not in message_id


def test_json_bodies_declare_the_size_limit_and_a_larger_one_is_a_413_naming_it(
    world: World, openapi: dict[str, Any], staff_api: Api
) -> None:
    limit = f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes"
    taking_json = [
        (path, method, operation)
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    assert len(taking_json) == 5  # four on tickets, one on DSE time entries
    for path, method, operation in taking_json:
        for described in (operation["requestBody"], operation["responses"]["413"]):
            assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in described["description"], (path, method)
            assert limit in described["description"]

    # A body the schema allows (a million characters, escaped to six bytes each) but too big.
    body = new_ticket(world, organisation_id=world.organisation.pk, body="é" * 1_000_000)
    assert _validator(openapi, "TicketCreate").is_valid(body)
    assert len(json.dumps(body)) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = staff_api.post("/api/tickets", body)
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in response.json()["detail"]
    assert limit in response.json()["errors"]["body"][0]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    "subject", ["Down\r\nBcc: all@example.com", "Down\nagain", "Down\ragain", "Down\u2028again"]
)
def test_a_subject_with_a_line_break_is_422_naming_it_at_the_api(
    world: World, openapi: dict[str, Any], staff_api: Api, subject: str
) -> None:
    body = new_ticket(world, organisation_id=world.organisation.pk, subject=subject)
    assert not _validator(openapi, "TicketCreate").is_valid(body)
    response = staff_api.post("/api/tickets", body)
    assert response.status_code == 422
    assert response.json()["errors"]["subject"] == [
        "Must be a single line: no line breaks (CR, LF) or NUL characters."
    ]
    item = {
        "organisation_id": world.organisation.pk,
        "subject": subject,
        "severity": 1,
        "channel": "email",
        "opened_at": "2026-03-02T08:00:00-05:00",
        "status": "solved",
        "external_id": "ZD-1",
    }
    imported = staff_api.post("/api/import/tickets", {"tickets": [item]})
    assert imported.status_code == 422 and "tickets[0].subject" in imported.json()["errors"]
    assert not Ticket.objects.exists()


def test_an_unreadable_multipart_body_is_a_declared_400_not_a_server_error(
    openapi: dict[str, Any], ticket: dict[str, Any], staff_api: Api
) -> None:
    url = f"/api/tickets/{ticket['id']}/attachments"
    assert "400" in openapi["paths"]["/api/tickets/{ticket_id}/attachments"]["post"]["responses"]
    response = staff_api.client.post(
        url, b"no boundary", content_type="multipart/form-data", headers=staff_api.auth
    )
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("severity", "3"), ("severity", True), ("severity", 3.5), ("organisation_id", "1")],
)
def test_a_json_integer_is_a_json_number_not_text_or_a_boolean(
    world: World, openapi: dict[str, Any], staff_api: Api, field: str, value: Any
) -> None:
    body = {**new_ticket(world, organisation_id=world.organisation.pk), field: value}
    assert not _validator(openapi, "TicketCreate").is_valid(body)
    response = staff_api.post("/api/tickets", body)
    assert response.status_code == 422 and field in response.json()["errors"]
    assert not Ticket.objects.exists()
    # JSON Schema's integer is a number without a fraction, so 3.0 is one.
    whole = {**body, field: 3.0 if field == "severity" else float(world.organisation.pk)}
    assert _validator(openapi, "TicketCreate").is_valid(whole)
    assert staff_api.post("/api/tickets", whole).status_code == 201


@pytest.mark.parametrize("value", ["yes", "true", 1])
def test_a_json_boolean_is_true_or_false_only(
    openapi: dict[str, Any], ticket: dict[str, Any], staff_api: Api, value: Any
) -> None:
    body = {"body": "A note", "internal": value}
    assert not _validator(openapi, "MessageCreate").is_valid(body)
    response = staff_api.post(f"/api/tickets/{ticket['id']}/messages", body)
    assert response.status_code == 422 and "internal" in response.json()["errors"]
