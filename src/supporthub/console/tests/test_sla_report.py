"""The managers' view (SPEC section 7): first-response attainment by organisation, support
level, severity and month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from supporthub.sla.selectors import attainment
from supporthub.testing.world import World, viewer_of
from supporthub.tickets import conversation, opening, services
from supporthub.tickets.models import Channel, MessageKind, Ticket
from supporthub.tickets.opening import TicketRequest

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


def _ticket(world: World, *, days_ago: float, severity: int, other: bool = False) -> Ticket:
    return opening.ticket_open(
        request=TicketRequest(
            organisation=world.other_organisation if other else world.organisation,
            requester=world.olga if other else world.carol,
            subject="x",
            body="",
            severity=severity,
            channel=Channel.HUB,
            received_at=NOW - timedelta(days=days_ago),
        ),
    )


@pytest.fixture
def history(world: World) -> None:
    alice = viewer_of(world.alice)
    with time_machine.travel(NOW, tick=False):
        met = _ticket(world, days_ago=2, severity=3)  # Base, 2 business days
        services.ticket_reply(ticket=met, viewer=alice, body="on it")  # within the target
        late = _ticket(world, days_ago=40, severity=2)  # February, 1 business day
        assert late.first_response_due_at is not None
        late_reply = late.first_response_due_at + timedelta(minutes=1)
        conversation.ticket_add_message(
            ticket=late,
            kind=MessageKind.PUBLIC_REPLY,
            body="sorry",
            author_staff=world.alice,
            at=late_reply,
        )
        _ticket(world, days_ago=10, severity=1)  # never answered: breached by now
        _ticket(world, days_ago=0.01, severity=3)  # still in time
        _ticket(world, days_ago=1, severity=1, other=True)  # Globex: Enhanced, 1 hour


def test_attainment_counts_met_breached_and_still_running(world: World, history: None) -> None:
    initech = Ticket.objects.filter(organisation=world.organisation)
    [row] = attainment(initech, by="organisation", now=NOW)
    assert (row.key, row.met, row.breached, row.pending) == ("Initech", 1, 2, 1)
    assert row.attainment == pytest.approx(1 / 3)
    by_month = {
        r.key.strftime("%Y-%m"): (r.met, r.breached)
        for r in attainment(initech, by="month", now=NOW)
    }
    assert by_month == {"2026-01": (0, 1), "2026-02": (0, 1), "2026-03": (1, 0)}
    by_severity = {
        r.key: r.breached for r in attainment(Ticket.objects.all(), by="severity", now=NOW)
    }
    assert by_severity == {1: 2, 2: 1, 3: 0}


def test_the_report_page_shows_each_dimension_and_respects_visibility(
    world: World, history: None, client: Client
) -> None:
    assert world.amy.user is not None
    client.force_login(world.amy.user)  # Initech's account manager only
    with time_machine.travel(NOW, tick=False):
        page = client.get("/console/reports/sla/?start=2025-12&end=2026-03").content.decode()
    for heading in ("By organisation", "By support level", "By severity", "By month received"):
        assert heading in page
    assert "Initech" in page and "Globex" not in page
    assert "33%" in page  # 1 met of 3 decided


def test_a_bad_month_is_named(world: World, client: Client) -> None:
    client.force_login(world.alice.user)
    response = client.get("/console/reports/sla/?start=March")
    assert response.status_code == 400
    assert "is not a month; write it as YYYY-MM" in response.content.decode()
