"""The demo data set and the staff overview with its running clocks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import call_command
from django.http import HttpRequest
from django.test import Client

from supporthub.dse.demo import LAST_MONTH, THIS_MONTH
from supporthub.routing.models import Page
from supporthub.tickets.models import FirstResponseStatus, Ticket


@pytest.mark.django_db
def test_demo_is_idempotent_and_gives_running_and_answered_clocks() -> None:
    call_command("demo", verbosity=0)
    count = Ticket.objects.count()
    # 20 demo tickets, and the cases of the Designated Support Engineer's logged time.
    assert count == 20 + len(LAST_MONTH) + len(THIS_MONTH)
    call_command("demo", verbosity=0)
    assert Ticket.objects.count() == count
    statuses = set(Ticket.objects.values_list("first_response_status", flat=True))
    assert FirstResponseStatus.PENDING in statuses
    assert FirstResponseStatus.MET in statuses or FirstResponseStatus.BREACHED in statuses
    # The B2B policy states no targets: its clocks record "no target", never a due instant.
    b2b = Ticket.objects.filter(policy_version__policy__key="b2b-customer-success")
    assert b2b.exists()
    assert not b2b.filter(first_response_due_at__isnull=False).exists()


@pytest.mark.django_db
def test_overview_lists_running_clocks_earliest_first(client: Client) -> None:
    call_command("demo", verbosity=0)
    client.login(request=HttpRequest(), username="alice", password="demo-pass-2026")
    page = client.get("/").content.decode()
    assert "First responses due next" in page
    running = Ticket.objects.filter(
        first_response_at__isnull=True, first_response_due_at__isnull=False
    ).order_by("first_response_due_at")
    positions = [page.index(t.reference) for t in running]
    assert positions == sorted(positions)
    answered = Ticket.objects.exclude(first_response_at=None).first()
    assert answered is not None and answered.reference not in page


@pytest.mark.django_db
def test_overview_needs_a_staff_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_demo_urgent_ticket_received_after_hours_pages_the_rotation_on_call() -> None:
    # Sunday 29 November 2026, 23:00 UTC: no support region is open.
    with time_machine.travel(datetime(2026, 11, 29, 23, 0, tzinfo=UTC), tick=False):
        call_command("demo", verbosity=0)
    [page] = Page.objects.select_related("ticket", "rotation", "engineer")
    assert page.ticket.subject == "Production cluster unreachable"
    assert page.rotation is not None and page.rotation.region == page.region
    assert page.engineer is not None
