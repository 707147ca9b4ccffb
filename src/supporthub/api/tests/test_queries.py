"""SQL queries per created ticket: the hot path of integrations (four for the ticket itself;
its acknowledgement mail adds two)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from supporthub.api.tests.conftest import Api, new_ticket
from supporthub.sla.models import CalendarStamp
from supporthub.testing.world import World

# Transaction control, which Django logs too: BEGIN/COMMIT around ticket_open's atomic block
# in production, SAVEPOINT/RELEASE inside a test's wrapping transaction.
_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries]


def _data(statements: list[str]) -> list[str]:
    return [s for s in statements if not s.upper().startswith(_CONTROL)]


@pytest.mark.django_db(transaction=True)
def test_creating_a_ticket_takes_four_queries_and_two_for_its_acknowledgement_mail(
    world: World, org_api: Api
) -> None:
    """As in production (no test transaction around the request): token with its
    organisation, the requester with the entitlement (and the closures' stamp: closures
    unchanged since the warm-up are not read again) in one statement, then the ticket and
    its audit entry in one transaction: four. The acknowledgement mail adds its outbox row in
    that same transaction (so the mail exists exactly when the ticket does) and, after
    COMMIT, a look for a wake-up already waiting for a worker (the warm-up's), else a task
    row."""
    # The flush before this transactional test emptied the stamp's table; migrate wrote it.
    CalendarStamp.objects.get_or_create(pk=1, defaults={"token": uuid.uuid4().hex})
    org_api.post("/api/tickets", new_ticket(world, subject="warm-up"))  # token use, caches
    with CaptureQueriesContext(connection) as captured:
        response = org_api.post("/api/tickets", new_ticket(world, subject="counted"))
    assert response.status_code == 201
    statements = _statements(captured)
    data = _data(statements)
    assert len(data) == 6, "\n".join(statements)
    shape = [s.split()[0].upper() for s in statements]
    assert shape == [
        *["SELECT", "SELECT", "BEGIN", "INSERT", "INSERT"],
        *["INSERT", "COMMIT", "SELECT"],
    ]
    assert '"api_apitoken"' in data[0] and '"customers_organisation"' in data[0]
    assert '"customers_supportcontact"' in data[1]
    assert re.search(r'JOIN "?customers_subscription"?', data[1]) and "sla_calendarstamp" in data[1]
    assert data[2].startswith('INSERT INTO "tickets_ticket"')
    assert data[3].startswith('INSERT INTO "tickets_auditentry"')
    assert '"notify_outboxmessage"' in data[4]
    assert '"django_tasks_database_dbtaskresult"' in data[5]


@pytest.mark.django_db(transaction=True)
def test_a_defaulted_severity_reads_the_entitlement_once(world: World, org_api: Api) -> None:
    CalendarStamp.objects.get_or_create(pk=1, defaults={"token": uuid.uuid4().hex})
    org_api.post("/api/tickets", new_ticket(world, subject="warm-up"))
    body = new_ticket(world, subject="no severity given")
    del body["severity"]
    with CaptureQueriesContext(connection) as captured:
        response = org_api.post("/api/tickets", body)
    assert response.status_code == 201
    assert response.json()["severity"] == 3  # the policy's default
    statements = _statements(captured)
    assert len(_data(statements)) == 6, "\n".join(statements)
    assert sum(bool(re.search(r'JOIN "?customers_subscription"?', s)) for s in statements) == 1


def test_reading_a_ticket_takes_two_queries(world: World, org_api: Api) -> None:
    ticket = org_api.post("/api/tickets", new_ticket(world)).json()
    org_api.get(f"/api/tickets/{ticket['id']}")
    with CaptureQueriesContext(connection) as captured:
        assert org_api.get(f"/api/tickets/{ticket['id']}").status_code == 200
    assert len(_data(_statements(captured))) == 2, "\n".join(_statements(captured))
