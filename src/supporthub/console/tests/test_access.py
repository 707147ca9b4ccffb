"""Who gets into the console: staff only; an account manager only to her organisations."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from supporthub.console.tests.helpers import client_for, open_ticket
from supporthub.testing.world import World, viewer_of
from supporthub.tickets import services
from supporthub.tickets.models import Status, Ticket

ACTIONS = ["reply", "assign", "severity", "status", "escalate", "out_of_scope"]


def console_urls(ticket: Ticket) -> list[tuple[str, str]]:
    attachment = ticket.attachments.get()
    pages = [
        reverse("console:queue"),
        *(reverse("console:queue", args=[n]) for n in ["mine", "region", "breaching"]),
        reverse("console:queue_named", args=["escalated"]),
        reverse("console:hot_items"),
        reverse("console:ticket", args=[ticket.pk]),
        reverse("console:ticket_freshness", args=[ticket.pk]),
        reverse("console:attachment", args=[ticket.pk, attachment.pk]),
    ]
    return [("get", url) for url in pages] + [
        ("post", reverse(f"console:{name}", args=[ticket.pk])) for name in ACTIONS
    ]


@pytest.fixture
def globex_ticket(world: World) -> Ticket:
    ticket = open_ticket(world.other_organisation, world.olga, severity=2)
    services.ticket_reply(
        ticket=ticket,
        viewer=viewer_of(world.alice),
        body="Logs attached",
        uploads=[SimpleUploadedFile("gc.log", b"pause 9s")],
    )
    return ticket


def test_customers_get_403_on_every_console_url(world: World, globex_ticket: Ticket) -> None:
    # Olga's own organisation's ticket: still no console for a Support Contact.
    client = client_for(world.olga)
    for method, url in console_urls(globex_ticket):
        data = {"version": globex_ticket.version, "body": "x", "reason": "x", "status": "solved"}
        response = getattr(client, method)(url, data) if method == "post" else client.get(url)
        assert response.status_code == 403, (method, url)
    assert Ticket.objects.get(pk=globex_ticket.pk).status == Status.OPEN


def test_anonymous_visitors_are_sent_to_log_in(world: World, globex_ticket: Ticket) -> None:
    client = Client()
    for method, url in console_urls(globex_ticket):
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith("/login/?next="), (method, url)


def test_account_manager_gets_404_for_another_organisations_ticket(
    world: World, globex_ticket: Ticket
) -> None:
    client = client_for(world.amy)  # Initech's account manager, not an engineer
    for method, url in console_urls(globex_ticket):
        if "/queue" in url or url == "/console/" or "hot-items" in url:
            continue
        data = {"version": globex_ticket.version, "body": "x", "reason": "x", "status": "solved"}
        response = getattr(client, method)(url, data) if method == "post" else client.get(url)
        assert response.status_code == 404, (method, url)
    assert Ticket.objects.get(pk=globex_ticket.pk).status == Status.OPEN


def test_account_manager_works_her_organisations_tickets(world: World) -> None:
    ticket = open_ticket(world.organisation, world.carol, severity=2)
    client = client_for(world.amy)

    assert client.get(reverse("console:ticket", args=[ticket.pk])).status_code == 200
    response = client.post(
        reverse("console:reply", args=[ticket.pk]),
        {"version": ticket.version, "body": "Your engineer will call.", "visibility": "public"},
    )

    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).first_response_at is not None


def test_hot_items_show_the_account_manager_only_her_organisations(
    world: World, globex_ticket: Ticket
) -> None:
    initech = open_ticket(world.organisation, world.carol)
    alice = viewer_of(world.alice)
    services.ticket_escalate(ticket=initech, reason="Initech hot", viewer=alice)
    services.ticket_escalate(ticket=globex_ticket, reason="Globex hot", viewer=alice)

    page = client_for(world.amy).get(reverse("console:hot_items")).content.decode()

    assert "Initech hot" in page and "Globex hot" not in page


def test_actions_refuse_get(world: World, globex_ticket: Ticket) -> None:
    client = client_for(world.alice)
    for name in ACTIONS:
        assert client.get(reverse(f"console:{name}", args=[globex_ticket.pk])).status_code == 405
