"""Queues: what breaches first at the top, each queue filtered right, for whom it may see."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from supporthub.console.tests.helpers import client_for, open_ticket, rows
from supporthub.testing import factories as f
from supporthub.testing.world import World, viewer_of
from supporthub.tickets import conversation, services
from supporthub.tickets.models import MessageKind, Status, Ticket

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def tickets(world: World) -> dict[str, Ticket]:
    """Globex is Enhanced (24x7): S1 due in 1 hour, S2 in 4 hours, S3 in a business day.
    Initech is Base (08:00-18:00 New York): S1 due in 4 business hours."""
    globex, olga = world.other_organisation, world.olga
    made = {
        "s3": open_ticket(globex, olga, severity=3),  # due Thursday 15:00 UTC
        "s1": open_ticket(globex, olga, severity=1),  # due 16:00 UTC
        "s2": open_ticket(globex, olga, severity=2, ago=timedelta(hours=2)),  # due 17:00
        "overdue": open_ticket(globex, olga, severity=1, ago=timedelta(hours=2)),  # was 14:00
        "initech": open_ticket(world.organisation, world.carol, severity=1),  # due 19:00
        "answered": open_ticket(globex, olga, severity=2, ago=timedelta(hours=5)),
    }
    conversation.ticket_add_message(
        ticket=made["answered"],
        kind=MessageKind.PUBLIC_REPLY,
        body="Looking.",
        author_staff=world.alice,
    )
    return made


def _refs(tickets: dict[str, Ticket], *names: str) -> list[str]:
    return [tickets[n].reference for n in names]


def test_all_queue_orders_running_clocks_by_due_time_then_answered(
    world: World, tickets: dict[str, Ticket]
) -> None:
    response = client_for(world.alice).get(reverse("console:queue"))

    assert response.status_code == 200
    assert rows(response.content) == _refs(
        tickets, "overdue", "s1", "s2", "initech", "s3", "answered"
    )


def test_each_row_shows_the_live_countdown_and_the_due_time_in_the_agents_zone(
    world: World, tickets: dict[str, Ticket]
) -> None:
    world.alice.time_zone = "Asia/Tokyo"
    world.alice.save()
    html = client_for(world.alice).get(reverse("console:queue")).content.decode()
    row = html[html.index(f'data-ticket="{tickets["s1"].reference}"') :]
    row = row[: row.index("</tr>")]
    # S1 received 15:00 UTC, due 16:00 UTC = Thursday 01:00 in Tokyo.
    assert '<time class="countdown" datetime="2026-03-05T16:00:00Z"' not in row
    assert '<time class="countdown" datetime="2026-03-04T16:00:00Z">' in row
    assert "Thu 05 Mar, 01:00" in row and "JST" in row
    assert "Globex" in row and "Olga" in row and "Enhanced" in row
    assert 'class="badge sev-1"' in row


def test_mine_shows_only_tickets_assigned_to_the_viewer(
    world: World, tickets: dict[str, Ticket]
) -> None:
    alice = viewer_of(world.alice)
    services.ticket_assign(ticket=tickets["initech"], assignee=world.alice, viewer=alice)
    services.ticket_assign(ticket=tickets["s3"], assignee=world.lee, viewer=alice)

    response = client_for(world.alice).get(reverse("console:queue", args=["mine"]))

    assert rows(response.content) == _refs(tickets, "initech")


def test_breaching_soon_holds_running_clocks_due_within_two_hours_or_past_due(
    world: World, tickets: dict[str, Ticket]
) -> None:
    response = client_for(world.alice).get(reverse("console:queue_named", args=["breaching"]))

    assert rows(response.content) == _refs(tickets, "overdue", "s1", "s2")


def test_my_region_shows_the_tickets_of_the_viewers_region(
    world: World, tickets: dict[str, Ticket]
) -> None:
    world.alice.region = "eu"
    world.alice.save()
    Ticket.objects.filter(pk__in=[tickets["s3"].pk, tickets["s2"].pk]).update(region="eu")
    Ticket.objects.filter(pk=tickets["initech"].pk).update(region="us")

    response = client_for(world.alice).get(reverse("console:queue", args=["region"]))

    assert rows(response.content) == _refs(tickets, "s2", "s3")


def test_my_region_is_empty_and_says_why_without_a_region(
    world: World, tickets: dict[str, Ticket]
) -> None:
    response = client_for(world.alice).get(reverse("console:queue", args=["region"]))

    assert rows(response.content) == []
    assert "no support region" in response.content.decode()


def test_escalated_queue_and_tab_counts(world: World, tickets: dict[str, Ticket]) -> None:
    services.ticket_escalate(
        ticket=tickets["s3"], reason="Angry CTO", viewer=viewer_of(world.alice)
    )

    response = client_for(world.alice).get(reverse("console:queue", args=["escalated"]))
    html = response.content.decode()

    assert rows(response.content) == _refs(tickets, "s3")
    assert 'All open <span class="count">6</span>' in html
    assert 'Breaching soon <span class="count">3</span>' in html
    assert 'Escalated <span class="count">1</span>' in html


def test_unknown_queue_is_404(world: World) -> None:
    response = client_for(world.alice).get("/console/queue/nonsense/")
    assert response.status_code == 404


def test_solved_and_closed_tickets_leave_the_queues(
    world: World, tickets: dict[str, Ticket]
) -> None:
    alice = viewer_of(world.alice)
    services.ticket_set_status(ticket=tickets["s1"], status=Status.SOLVED, viewer=alice)
    response = client_for(world.alice).get(reverse("console:queue"))
    assert tickets["s1"].reference not in rows(response.content)


def test_account_manager_sees_exactly_her_organisations_tickets(
    world: World, tickets: dict[str, Ticket]
) -> None:
    second = open_ticket(world.organisation, world.carol, severity=3, subject="Second")

    response = client_for(world.amy).get(reverse("console:queue"))

    assert sorted(rows(response.content)) == sorted(
        [tickets["initech"].reference, second.reference]
    )
    assert 'All open <span class="count">2</span>' in response.content.decode()


def test_htmx_refresh_gets_the_table_alone_and_keeps_polling(
    world: World, tickets: dict[str, Ticket]
) -> None:
    client = client_for(world.alice)
    response = client.get(reverse("console:queue", args=["breaching"]), HTTP_HX_REQUEST="true")
    html = response.content.decode()

    assert "<html" not in html
    assert 'hx-trigger="every 30s"' in html
    assert f'hx-get="{reverse("console:queue_named", args=["breaching"])}"' in html
    assert rows(response.content) == _refs(tickets, "overdue", "s1", "s2")
    # A ticket that arrives between two polls is in the next one.
    new = open_ticket(world.other_organisation, world.olga, severity=1, subject="New")
    again = client.get(reverse("console:queue", args=["breaching"]), HTTP_HX_REQUEST="true")
    assert new.reference in rows(again.content)


def test_queue_pages_at_fifty_rows(world: World) -> None:
    for _ in range(51):
        open_ticket(world.other_organisation, world.olga, severity=3)
    client = client_for(world.alice)

    first = client.get(reverse("console:queue"))
    second = client.get(reverse("console:queue"), {"page": 2})

    assert len(rows(first.content)) == 50
    assert len(rows(second.content)) == 1
    assert "Page 1 of 2" in first.content.decode()


def _queue_queries(world: World, count: int) -> int:
    Ticket.objects.all().delete()
    engineers = [f.staff(role_codes=["support_engineer"]) for _ in range(3)]
    alice = viewer_of(world.alice)
    for n in range(count):
        organisation, contact = (
            (world.organisation, world.carol) if n % 2 else (world.other_organisation, world.olga)
        )
        ticket = open_ticket(organisation, contact, severity=1 + n % 3, ago=timedelta(minutes=n))
        services.ticket_assign(ticket=ticket, assignee=engineers[n % 3], viewer=alice)
        if n % 4 == 0:
            services.ticket_escalate(ticket=ticket, reason="Hot", viewer=alice)
    client = client_for(world.alice)
    client.get(reverse("console:queue"))  # warm the session and the parsed policies
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("console:queue"))
    assert len(rows(response.content)) == count
    return len(queries)


def test_queue_query_count_does_not_grow_with_the_tickets(world: World) -> None:
    assert _queue_queries(world, 5) == _queue_queries(world, 40)


def test_hot_items_query_count_does_not_grow_with_the_tickets(world: World) -> None:
    def hot_items_queries(count: int) -> int:
        Ticket.objects.all().delete()
        alice = viewer_of(world.alice)
        for n in range(count):
            ticket = open_ticket(world.other_organisation, world.olga, subject=f"Hot {n}")
            services.ticket_escalate(ticket=ticket, reason=f"Reason {n}", viewer=alice)
        client = client_for(world.lee)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("console:hot_items"))
        assert len(rows(response.content)) == count
        return len(queries)

    assert hot_items_queries(3) == hot_items_queries(30)


def test_queue_clock_is_live_while_time_passes(
    world: World, tickets: dict[str, Ticket], frozen: time_machine.Traveller
) -> None:
    frozen.shift(timedelta(hours=1, minutes=30))  # s1 (due 16:00) is now past due
    html = client_for(world.alice).get(reverse("console:queue")).content.decode()
    row = html[html.index(f'data-ticket="{tickets["s1"].reference}"') :]
    assert row.startswith(f'data-ticket="{tickets["s1"].reference}" class="breached"')
    assert 'data-state="breached"' in row[: row.index("</tr>")]
