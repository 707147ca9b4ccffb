"""The console (link by pasting an address, unlink with a reason, filter by stage, hot items)
and the Hub (the development ticket's number, stage and history)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from supporthub.development import samples
from supporthub.development.models import TicketLink
from supporthub.development.stages import Stage
from supporthub.development.tests.conftest import REPO, SITE, Dev, github_post, process
from supporthub.testing import factories as f
from supporthub.testing.world import viewer_of
from supporthub.tickets import services
from supporthub.tickets.models import AuditEntry, Message, MessageKind, Ticket

pytestmark = pytest.mark.django_db
START = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)


def staff_client(dev: Dev) -> Client:
    client = Client()
    assert dev.world.alice.user is not None
    client.force_login(dev.world.alice.user)
    return client


def test_an_agent_links_by_pasting_the_issue_address(dev: Dev) -> None:
    client = staff_client(dev)
    url = reverse("development:link", args=[dev.ticket.pk])
    response = client.post(url, {"url": f"https://github.com/{REPO}/issues/42"}, follow=True)
    assert "Linked to acme/shop#42" in response.content.decode()
    link = TicketLink.objects.get()
    assert (link.issue.key, link.stage) == (f"{REPO}#42", Stage.LOGGED)
    note = Message.objects.get(ticket=dev.ticket, kind=MessageKind.PROGRESS_NOTE)
    assert "logged with development as acme/shop#42" in note.body
    assert AuditEntry.objects.filter(ticket=dev.ticket, code="development.linked").exists()
    page = client.get(reverse("console:ticket", args=[dev.ticket.pk])).content.decode()
    assert 'data-issue="acme/shop#42"' in page and "Logged with development" in page


def test_a_pasted_address_of_no_connected_tracker_is_refused_saying_why(dev: Dev) -> None:
    client = staff_client(dev)
    url = reverse("development:link", args=[dev.ticket.pk])
    response = client.post(url, {"url": "https://github.com/other/repo/issues/1"}, follow=True)
    assert "other/repo is not a connected GitHub repository" in response.content.decode()
    response = client.post(url, {"url": "https://jira.elsewhere.example/browse/AB-1"}, follow=True)
    assert "jira.elsewhere.example is not a connected Jira site" in response.content.decode()
    response = client.post(url, {"url": "not an address"}, follow=True)
    assert "full address" in response.content.decode()
    assert not TicketLink.objects.exists()


def test_linking_twice_is_refused(dev: Dev) -> None:
    client = staff_client(dev)
    url = reverse("development:link", args=[dev.ticket.pk])
    client.post(url, {"url": f"{SITE}/browse/SHOP-7"})
    response = client.post(url, {"url": f"{SITE}/browse/SHOP-7"}, follow=True)
    assert "is already linked to SHOP-7" in response.content.decode()
    assert TicketLink.objects.count() == 1


def test_unlinking_needs_a_reason_and_keeps_the_history(dev: Dev) -> None:
    client = staff_client(dev)
    client.post(reverse("development:link", args=[dev.ticket.pk]), {"url": f"{SITE}/browse/SHOP-7"})
    link = TicketLink.objects.get()
    unlink = reverse("development:unlink", args=[dev.ticket.pk, link.pk])
    client.post(unlink, {"reason": ""})
    assert TicketLink.objects.get().unlinked_at is None
    client.post(unlink, {"reason": "Linked to the wrong issue"})
    link.refresh_from_db()
    assert link.unlinked_at is not None and link.unlink_reason == "Linked to the wrong issue"
    entry = AuditEntry.objects.get(ticket=dev.ticket, code="development.unlinked")
    assert entry.data["reason"] == "Linked to the wrong issue"
    # A later move of the issue no longer reaches the ticket.
    github_post(Client(), *samples.github_sequence(REPO, 42, start=START)[0])
    process()
    assert Message.objects.filter(ticket=dev.ticket, kind=MessageKind.PROGRESS_NOTE).count() == 1


def test_a_customer_cannot_link(dev: Dev) -> None:
    client = Client()
    assert isinstance(dev.world.carol.user, User)
    client.force_login(dev.world.carol.user)
    url = reverse("development:link", args=[dev.ticket.pk])
    response = client.post(url, {"url": f"{SITE}/browse/SHOP-7"})
    assert response.status_code == 403
    assert not TicketLink.objects.exists()


def test_the_queue_filters_by_development_stage(dev: Dev) -> None:
    client = staff_client(dev)
    other = dev.ticket_of("Not with development")
    client.post(reverse("development:link", args=[dev.ticket.pk]), {"url": f"{SITE}/browse/SHOP-7"})
    logged = client.get(reverse("console:queue"), {"development": "logged"}).content.decode()
    assert dev.ticket.reference in logged and other.reference not in logged
    review = client.get(reverse("console:queue"), {"development": "in_review"}).content.decode()
    assert dev.ticket.reference not in review
    linked = client.get(reverse("console:queue"), {"development": "any"}).content.decode()
    assert dev.ticket.reference in linked and other.reference not in linked


def test_hot_items_show_the_link_and_stage_in_one_query(dev: Dev) -> None:
    client = staff_client(dev)
    alice = viewer_of(dev.world.alice)

    def hot_items(count: int) -> tuple[int, str]:
        for n in range(count):
            ticket = dev.ticket_of(f"Hot {n}")
            services.ticket_escalate(ticket=ticket, reason="Blocks invoicing", viewer=alice)
            client.post(
                reverse("development:link", args=[ticket.pk]),
                {"url": f"{SITE}/browse/SHOP-{n + 1}"},
            )
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("console:hot_items")).content.decode()
        return len(queries), page

    few, _ = hot_items(2)
    Ticket.objects.filter(escalated_at__isnull=False).update(escalated_at=None)
    many, page = hot_items(6)
    assert few == many
    assert "SHOP-6" in page and "Logged with development" in page


def test_the_hub_shows_the_development_ticket_number_stage_and_history(dev: Dev) -> None:
    client = staff_client(dev)
    client.post(
        reverse("development:link", args=[dev.ticket.pk]),
        {"url": f"https://github.com/{REPO}/issues/42"},
    )
    for event, payload in samples.github_sequence(REPO, 42, start=START)[:2]:
        github_post(Client(), event, payload)
    process()
    carol_like = dev.world.carol  # a contact of another organisation sees nothing of it
    other = Client()
    assert isinstance(carol_like.user, User)
    other.force_login(carol_like.user)
    assert other.get(reverse("portal:ticket", args=[dev.ticket.pk])).status_code == 404
    user = f.user(username="ava")
    assert isinstance(user, User)
    dev.ava.user = user
    dev.ava.save(update_fields=["user"])
    hub = Client()
    hub.force_login(user)
    page = hub.get(reverse("portal:ticket", args=[dev.ticket.pk])).content.decode()
    assert 'data-testid="development"' in page
    assert "acme/shop#42" in page and "In review" in page
    assert page.index("Logged with development") < page.index("Accepted by development")
    assert "hubot" not in page  # assignees never reach the customer
