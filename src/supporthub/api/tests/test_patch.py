"""PATCH /api/tickets/{id}: If-Match against the version, staff-only fields, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from supporthub.api.tests.conftest import Api, new_ticket
from supporthub.testing.world import World
from supporthub.tickets.models import AuditEntry, Status, Ticket


@pytest.fixture
def ticket(world: World, org_api: Api) -> dict[str, Any]:
    created = org_api.post("/api/tickets", new_ticket(world))
    assert created.status_code == 201
    return dict(created.json())


def test_missing_if_match_is_428(ticket: dict[str, Any], staff_api: Api) -> None:
    response = staff_api.patch(f"/api/tickets/{ticket['id']}", {"status": "open"})
    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]
    assert "errors" not in response.json()
    assert Ticket.objects.get().status == Status.NEW


def test_stale_if_match_is_412_with_the_current_version(
    ticket: dict[str, Any], staff_api: Api
) -> None:
    url = f"/api/tickets/{ticket['id']}"
    assert staff_api.patch(url, {"status": "open"}, headers={"If-Match": '"1"'}).status_code == 200
    stale = staff_api.patch(url, {"status": "on_hold"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    assert stale["ETag"] == '"2"'
    assert Ticket.objects.get().status == Status.OPEN


def test_matching_if_match_changes_and_bumps_the_version(
    ticket: dict[str, Any], staff_api: Api
) -> None:
    url = f"/api/tickets/{ticket['id']}"
    read = staff_api.get(url)
    assert read["ETag"] == '"1"'
    response = staff_api.patch(url, {"status": "open"}, headers={"If-Match": read["ETag"]})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "open"
    assert response.json()["version"] == 2
    assert response["ETag"] == '"2"'
    # Quotes are optional and a weak validator is tolerated.
    for tag, status in (("2", "on_hold"), ('W/"3"', "open")):
        again = staff_api.patch(url, {"status": status}, headers={"If-Match": tag})
        assert again.status_code == 200, again.content
    assert Ticket.objects.get().version == 4


def test_severity_change_needs_a_reason_and_rederives_the_due_time(
    ticket: dict[str, Any], staff_api: Api
) -> None:
    url = f"/api/tickets/{ticket['id']}"
    no_reason = staff_api.patch(url, {"severity": 1}, headers={"If-Match": "1"})
    assert no_reason.status_code == 422
    assert "severity_reason" in no_reason.json()["errors"]
    blank = staff_api.patch(
        url, {"severity": 1, "severity_reason": "  "}, headers={"If-Match": "1"}
    )
    assert blank.status_code == 422 and "severity_reason" in blank.json()["errors"]
    changed = staff_api.patch(
        url, {"severity": 1, "severity_reason": "Production is down"}, headers={"If-Match": "1"}
    )
    assert changed.status_code == 200, changed.content
    due = changed.json()["sla"]["first_response"]["due_at"]
    assert changed.json()["severity"] == 1
    assert due < ticket["sla"]["first_response"]["due_at"]  # 4 business hours, not one day
    assert AuditEntry.objects.filter(code="ticket.severity_changed").exists()


def test_assign_escalate_and_unassign(world: World, ticket: dict[str, Any], staff_api: Api) -> None:
    url = f"/api/tickets/{ticket['id']}"
    response = staff_api.patch(
        url,
        {"assignee_id": world.alice.pk, "escalate": {"reason": "Customer's launch is today"}},
        headers={"If-Match": "1"},
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["assignee"] == {"id": world.alice.pk, "name": "Alice"}
    assert data["escalated_at"] is not None and data["version"] == 3
    unassigned = staff_api.patch(url, {"assignee_id": None}, headers={"If-Match": "3"})
    assert unassigned.status_code == 200
    assert unassigned.json()["assignee"] is None


def test_close_out_of_scope_with_one_of_the_policys_exclusions(
    ticket: dict[str, Any], staff_api: Api
) -> None:
    url = f"/api/tickets/{ticket['id']}"
    unknown = staff_api.patch(
        url, {"out_of_scope": {"exclusion": "astrology"}}, headers={"If-Match": "1"}
    )
    assert unknown.status_code == 422
    assert "no exclusion 'astrology'" in unknown.json()["errors"]["out_of_scope.exclusion"][0]
    closed = staff_api.patch(
        url,
        {"out_of_scope": {"exclusion": "training", "note": "Asked how to write queries"}},
        headers={"If-Match": "1"},
    )
    assert closed.status_code == 200, closed.content
    assert (closed.json()["status"], closed.json()["out_of_scope"]) == ("closed", "training")


def test_a_failing_change_changes_nothing(ticket: dict[str, Any], staff_api: Api) -> None:
    url = f"/api/tickets/{ticket['id']}"
    response = staff_api.patch(
        url,
        {
            "severity": 1,
            "severity_reason": "Production is down",
            "escalate": {"reason": "Launch today"},
            "out_of_scope": {"exclusion": "astrology"},
        },
        headers={"If-Match": "1"},
    )
    assert response.status_code == 422
    row = Ticket.objects.get()
    assert (row.severity, row.version, row.escalated_at) == (3, 1, None)
    assert not AuditEntry.objects.exclude(code="ticket.opened").exists()


def test_customers_cannot_change_staff_only_fields(
    world: World, ticket: dict[str, Any], org_api: Api
) -> None:
    url = f"/api/tickets/{ticket['id']}"
    response = org_api.patch(
        url, {"assignee_id": world.alice.pk, "status": "solved"}, headers={"If-Match": "1"}
    )
    assert response.status_code == 403
    assert "status" in response.json()["detail"]
    assert "assignee_id" in response.json()["detail"]
    assert Ticket.objects.get().version == 1


def test_another_organisations_ticket_is_404_not_403(
    ticket: dict[str, Any], other_org_api: Api
) -> None:
    url = f"/api/tickets/{ticket['id']}"
    response = other_org_api.patch(url, {"status": "solved"}, headers={"If-Match": "1"})
    assert response.status_code == 404


def test_empty_or_contradictory_changes_are_422(ticket: dict[str, Any], staff_api: Api) -> None:
    url = f"/api/tickets/{ticket['id']}"
    empty = staff_api.patch(url, {}, headers={"If-Match": "1"})
    assert empty.status_code == 422 and "Nothing to change" in empty.json()["detail"]
    both = staff_api.patch(
        url,
        {"status": "solved", "out_of_scope": {"exclusion": "training"}},
        headers={"If-Match": "1"},
    )
    assert both.status_code == 422 and "out_of_scope" in both.json()["errors"]
    null_status = staff_api.patch(url, {"status": None}, headers={"If-Match": "1"})
    assert null_status.status_code == 422 and "status" in null_status.json()["errors"]
    unknown_staff = staff_api.patch(url, {"assignee_id": 999999}, headers={"If-Match": "1"})
    assert unknown_staff.status_code == 422 and "assignee_id" in unknown_staff.json()["errors"]


def test_if_match_star_means_any_version(ticket: dict[str, Any], staff_api: Api) -> None:
    url = f"/api/tickets/{ticket['id']}"
    staff_api.patch(url, {"status": "open"}, headers={"If-Match": "1"})
    response = staff_api.patch(url, {"status": "on_hold"}, headers={"If-Match": "*"})
    assert response.status_code == 200
    assert response.json()["version"] == 3
