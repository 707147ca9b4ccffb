"""POST /api/tickets: who opens for whom, through which channel, with the SLA shown."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.http import HttpRequest
from django.test import Client

from supporthub.api.services import api_token_create
from supporthub.api.tests.conftest import Api, new_ticket
from supporthub.customers import services as customer_services
from supporthub.testing.world import World
from supporthub.tickets.models import AuditEntry, Ticket


def test_organisation_token_opens_a_ticket_with_its_sla(world: World, org_api: Api) -> None:
    # The benchmark's request, exactly.
    body = {
        "subject": "Nightly export stopped",
        "body": "No data since 02:00 UTC.",
        "severity": 3,
        "type": "incident",
        "requester_email": world.carol.email,
    }
    response = org_api.post("/api/tickets", body)
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get()
    data = response.json()
    assert data["id"] == ticket.pk and data["reference"] == ticket.reference
    assert data["organisation"] == {"id": world.organisation.pk, "name": "Initech"}
    assert data["requester"] == {
        "id": world.carol.pk,
        "name": "Carol",
        "email": world.carol.email,
    }
    assert (data["channel"], data["severity"], data["status"]) == ("api", 3, "new")
    assert data["support_level"] == "base"
    assert data["policy_version"]["policy"] == "cloud-support"
    first = data["sla"]["first_response"]
    assert first["status"] == "pending" and first["responded_at"] is None
    assert first["due_at"].endswith("Z")
    assert datetime.fromisoformat(first["due_at"]) == ticket.first_response_due_at
    assert response["ETag"] == '"1"'
    assert response["Location"] == f"/api/tickets/{ticket.pk}"
    assert AuditEntry.objects.filter(ticket=ticket, code="ticket.opened").exists()


def test_severity_defaults_to_the_policys_default(world: World, org_api: Api) -> None:
    body = new_ticket(world)
    del body["severity"]
    assert org_api.post("/api/tickets", body).json()["severity"] == 3


def test_unknown_severity_is_refused_naming_the_field(world: World, org_api: Api) -> None:
    response = org_api.post("/api/tickets", new_ticket(world, severity=9))
    assert response.status_code == 422
    assert "has no severity 9" in response.json()["errors"]["severity"][0]
    assert not Ticket.objects.exists()


def test_customer_session_opens_as_its_own_contact_through_the_hub(world: World) -> None:
    client = Client()
    client.login(request=HttpRequest(), username="carol", password="pw-for-tests")
    body = new_ticket(world)
    del body["requester_email"]
    response = client.post("/api/tickets", body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["requester"]["id"] == world.carol.pk
    assert response.json()["channel"] == "hub"


def test_customer_session_cannot_report_as_someone_else(world: World) -> None:
    client = Client()
    client.login(request=HttpRequest(), username="carol", password="pw-for-tests")
    body = new_ticket(world, requester_email="someone@else.example")
    response = client.post("/api/tickets", body, content_type="application/json")
    assert response.status_code == 422
    assert "own Support Contact" in response.json()["errors"]["requester_email"][0]


def test_retired_contact_reads_but_cannot_open(world: World) -> None:
    customer_services.support_contact_retire(contact=world.carol)
    client = Client()
    client.login(request=HttpRequest(), username="carol", password="pw-for-tests")
    assert client.get("/api/tickets").status_code == 200
    response = client.post("/api/tickets", new_ticket(world), content_type="application/json")
    assert response.status_code == 403
    assert "no longer a Support Contact" in response.json()["detail"]


def test_token_must_name_an_active_support_contact(world: World, org_api: Api) -> None:
    body = new_ticket(world)
    del body["requester_email"]
    missing = org_api.post("/api/tickets", body)
    assert missing.status_code == 422
    assert "requester_email" in missing.json()["errors"]

    stranger = org_api.post("/api/tickets", new_ticket(world, requester_email="x@y.example"))
    assert stranger.status_code == 422
    assert "is not a Support Contact of Initech" in stranger.json()["errors"]["requester_email"][0]

    # Olga is a contact of Globex, not of Initech.
    other = org_api.post("/api/tickets", new_ticket(world, requester_email=world.olga.email))
    assert other.status_code == 422

    customer_services.support_contact_retire(contact=world.carol)
    retired = org_api.post("/api/tickets", new_ticket(world))
    assert retired.status_code == 422
    assert "no longer an active Support Contact" in retired.json()["errors"]["requester_email"][0]
    assert not Ticket.objects.exists()


def test_requester_email_matches_whatever_its_case(world: World, org_api: Api) -> None:
    body = new_ticket(world, requester_email=world.carol.email.upper())
    assert org_api.post("/api/tickets", body).status_code == 201


def test_organisation_token_cannot_open_for_another_organisation(
    world: World, org_api: Api
) -> None:
    body = new_ticket(world, organisation_id=world.other_organisation.pk)
    response = org_api.post("/api/tickets", body)
    assert response.status_code == 403
    assert "organisation_id" in response.json()["detail"]
    same = org_api.post("/api/tickets", new_ticket(world, organisation_id=world.organisation.pk))
    assert same.status_code == 201


def test_staff_name_the_organisation_and_the_requester(world: World, staff_api: Api) -> None:
    missing = staff_api.post("/api/tickets", new_ticket(world))
    assert missing.status_code == 422
    assert "organisation_id" in missing.json()["errors"]

    body = new_ticket(world, organisation_id=world.organisation.pk)
    del body["requester_email"]
    body["requester_id"] = world.carol.pk
    response = staff_api.post("/api/tickets", body)
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get()
    assert ticket.requester == world.carol and ticket.channel == "api"
    opened = AuditEntry.objects.get(ticket=ticket, code="ticket.opened")
    assert opened.actor == world.alice.user


def test_staff_may_open_only_for_organisations_they_work_with(world: World) -> None:
    # Amy manages Initech's account, not Globex's.
    _, raw = api_token_create(name="Amy", staff_user=world.amy.user)
    amy = Api(Client(), raw)
    body = new_ticket(world, organisation_id=world.other_organisation.pk)
    body["requester_email"] = world.olga.email
    response = amy.post("/api/tickets", body)
    assert response.status_code == 422
    assert "organisation_id" in response.json()["errors"]
    body = new_ticket(world, organisation_id=world.organisation.pk)
    assert amy.post("/api/tickets", body).status_code == 201


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 301}, "subject"),
        ({"body": ""}, "body"),
        ({"severity": "high"}, "severity"),
        ({"body_format": "markdown"}, "body_format"),
        ({"type": "complaint"}, "type"),
        ({"requester_email": "not-an-email"}, "requester_email"),
        ({"colour": "blue"}, "colour"),
        ({"subject": "nul\x00byte"}, "subject"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    world: World, org_api: Api, override: dict[str, object], field: str
) -> None:
    response = org_api.post("/api/tickets", new_ticket(world, **override))
    assert response.status_code == 422
    assert field in response.json()["errors"], response.json()
    assert field in response.json()["detail"]
    assert not Ticket.objects.exists()


def test_severity_1_and_2_are_refused_through_the_api_naming_the_support_hub(
    world: World, org_api: Api
) -> None:
    """Seed 003: "Severity Level 1 and 2 Incidents must be submitted via the web-based
    Support Hub"; an integration is not the Hub."""
    for severity in (1, 2):
        response = org_api.post("/api/tickets", new_ticket(world, severity=severity))
        assert response.status_code == 422
        assert "Support Hub" in response.json()["errors"]["severity"][0]
    assert not Ticket.objects.exists()
