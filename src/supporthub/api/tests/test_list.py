"""GET /api/tickets: cursor pages without gaps or repeats, filters, constant queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from supporthub.api.tests.conftest import Api
from supporthub.customers.models import Organisation, SupportContact
from supporthub.testing.world import World
from supporthub.tickets import opening, services
from supporthub.tickets.models import Channel, Status, Ticket, TicketType
from supporthub.tickets.opening import TicketRequest

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday


def _open(
    organisation: Organisation,
    requester: SupportContact,
    at: datetime,
    *,
    severity: int = 3,
    **kwargs: Any,
) -> Ticket:
    return opening.ticket_open(
        request=TicketRequest(
            organisation=organisation,
            requester=requester,
            subject=kwargs.pop("subject", f"Opened {at:%d %H:%M}"),
            body="Details",
            severity=severity,
            channel=kwargs.pop("channel", Channel.HUB),
            received_at=at,
            **kwargs,
        ),
    )


def _all_pages(api: Api, limit: int, **query: Any) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor = None
    while True:
        params = {"limit": limit, **query, **({"cursor": cursor} if cursor else {})}
        response = api.get("/api/tickets", **params)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([t["id"] for t in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_cursor_pages_cover_every_ticket_once_newest_first(world: World, org_api: Api) -> None:
    base = NOW - timedelta(days=1)
    # Three tickets share one receipt instant: the id breaks the tie.
    instants = [base, base, base, base - timedelta(hours=1), base + timedelta(minutes=1)]
    instants += [base - timedelta(days=d) for d in range(1, 6)]
    for at in instants:
        _open(world.organisation, world.carol, at)
    _open(world.other_organisation, world.olga, base)  # never listed for Initech

    pages = _all_pages(org_api, 3)
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    seen = [pk for page in pages for pk in page]
    expected = list(
        Ticket.objects.filter(organisation=world.organisation)
        .order_by("-received_at", "-pk")
        .values_list("pk", flat=True)
    )
    assert seen == expected  # no gap, no repeat, in order
    assert _all_pages(org_api, 100) == [expected]


def test_a_page_boundary_inside_a_tie_loses_nothing(world: World, org_api: Api) -> None:
    at = NOW - timedelta(hours=2)
    tied = [_open(world.organisation, world.carol, at).pk for _ in range(5)]
    pages = _all_pages(org_api, 2)
    assert [pk for page in pages for pk in page] == sorted(tied, reverse=True)


def test_tickets_created_between_pages_do_not_shift_the_next_page(
    world: World, org_api: Api
) -> None:
    for d in range(4):
        _open(world.organisation, world.carol, NOW - timedelta(days=d + 1))
    first = org_api.get("/api/tickets", limit=2).json()
    _open(world.organisation, world.carol, NOW - timedelta(minutes=5))  # newer than all
    second = org_api.get("/api/tickets", limit=2, cursor=first["next_cursor"]).json()
    assert {t["id"] for t in first["items"]}.isdisjoint({t["id"] for t in second["items"]})
    assert len(second["items"]) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ({"cursor": "!!"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"status": "sleeping"}, "status"),
        ({"breaching_before": "2026-03-04T12:00:00"}, "breaching_before"),  # naive
        ({"severity": "high"}, "severity"),
    ],
)
def test_bad_list_parameters_are_422_naming_them(
    world: World, org_api: Api, query: dict[str, Any], field: str
) -> None:
    response = org_api.get("/api/tickets", **query)
    assert response.status_code == 422
    assert any(name.startswith(field) for name in response.json()["errors"]), response.json()


def test_filters(world: World, staff_api: Api) -> None:
    with time_machine.travel(NOW, tick=False):
        old = _open(world.organisation, world.carol, NOW - timedelta(days=10), severity=1)
        fresh = _open(world.organisation, world.carol, NOW - timedelta(minutes=30), severity=1)
        mailed = _open(
            world.organisation,
            world.carol,
            NOW - timedelta(hours=1),
            channel=Channel.EMAIL,
            type=TicketType.QUESTION,
        )
        globex = _open(world.other_organisation, world.olga, NOW - timedelta(hours=2), severity=2)
        services.ticket_assign(ticket=fresh, assignee=world.alice, viewer=_alice(world))
        services.ticket_set_status(ticket=mailed, status=Status.OPEN, viewer=_alice(world))

        def ids(**query: Any) -> set[int]:
            response = staff_api.get("/api/tickets", **query)
            assert response.status_code == 200, response.content
            return {t["id"] for t in response.json()["items"]}

        assert ids(severity=1) == {old.pk, fresh.pk}
        assert ids(status="open") == {mailed.pk}
        assert ids(status=["open", "new"]) == {old.pk, fresh.pk, mailed.pk, globex.pk}
        assert ids(organisation_id=world.other_organisation.pk) == {globex.pk}
        assert ids(assignee_id=world.alice.pk) == {fresh.pk}
        assert ids(type="question") == {mailed.pk}
        assert ids(channel="email") == {mailed.pk}
        # The ten-day-old clock ran out: breached although nobody has answered yet.
        assert ids(first_response_status="breached") == {old.pk}
        assert old.pk not in ids(first_response_status="pending")
        fresh.refresh_from_db()
        assert fresh.first_response_due_at is not None
        soon = fresh.first_response_due_at + timedelta(seconds=1)
        assert fresh.pk in ids(breaching_before=soon.isoformat())
        assert ids(breaching_before=(NOW - timedelta(days=8)).isoformat()) == {old.pk}


def _alice(world: World) -> Any:
    from supporthub.access import viewer_for

    return viewer_for(world.alice.user)


def test_customers_may_filter_by_their_own_organisation_only(world: World, org_api: Api) -> None:
    own = org_api.get("/api/tickets", organisation_id=world.organisation.pk)
    assert own.status_code == 200
    other = org_api.get("/api/tickets", organisation_id=world.other_organisation.pk)
    assert other.status_code == 403
    assert "organisation_id" in other.json()["detail"]


def test_the_list_queries_the_same_whatever_the_page_size(world: World, staff_api: Api) -> None:
    world.organisation.account_manager = world.amy
    for d in range(30):
        ticket = _open(world.organisation, world.carol, NOW - timedelta(hours=d + 1))
        if d % 2:
            services.ticket_assign(ticket=ticket, assignee=world.alice, viewer=_alice(world))
    staff_api.get("/api/tickets", limit=1)  # warm: token last use written, policy parsed

    def count(limit: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = staff_api.get("/api/tickets", limit=limit)
        assert len(response.json()["items"]) == limit
        return len(queries)

    assert count(2) == count(25) == count(30)
