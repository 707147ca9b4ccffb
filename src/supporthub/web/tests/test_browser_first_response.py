"""End to end in a real browser: a Support Contact opens a Severity 1 incident in the Hub
and sees its due time; an agent finds it first in the queue and replies; the first response
shows as met on both sides."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from supporthub.staff.models import Role
from supporthub.testing import factories as f
from supporthub.testing.browser import login, screenshot_path
from supporthub.testing.tickets import open_ticket
from supporthub.tickets.models import Channel, FirstResponseStatus, Ticket

PASSWORD = "pw-for-tests"


@pytest.mark.browser
def test_severity_1_from_hub_to_first_response_met_on_both_sides(
    page: Page, chromium_browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    # Northwind: Enterprise -> Premium, 24x7x365, Severity 1 due in 30 minutes.
    northwind = f.organisation(name="Northwind", time_zone="America/Chicago")
    f.subscribe(northwind, level="enterprise")
    carol = f.add_contact(
        northwind,
        "Carol Diaz",
        user=User.objects.create_user("carol", password=PASSWORD),
        time_zone="Asia/Tokyo",  # her own zone, not her organisation's
    )
    f.staff(user__username="alice", role_codes=[Role.SUPPORT_ENGINEER])  # pw-for-tests
    # Already in the queue: a Severity 3 received an hour ago (due later, in a business day).
    open_ticket(
        organisation=northwind,
        requester=carol,
        subject="Question about snapshots",
        body="",
        severity=3,
        channel=Channel.HUB,
        received_at=timezone.now() - timedelta(hours=1),
    )

    # The contact opens a Severity 1 incident and sees when the first response is due.
    login(page, "carol", PASSWORD)
    page.goto("/hub/new/")
    page.fill('input[name="subject"]', "Production cluster unreachable")
    page.fill('textarea[name="body"]', "All nodes time out since 09:12.")
    page.check('input[name="severity"][value="1"]')
    page.get_by_role("button", name="Submit incident").click()
    reference = page.get_by_test_id("reference")
    expect(reference).to_be_visible()
    ticket = Ticket.objects.get(subject="Production cluster unreachable")
    expect(reference).to_contain_text(ticket.reference)
    assert (ticket.severity, ticket.channel) == (1, Channel.HUB)
    assert ticket.first_response_due_at == ticket.received_at + timedelta(minutes=30)
    due_in_tokyo = ticket.first_response_due_at.astimezone(ZoneInfo("Asia/Tokyo"))
    expect(page.get_by_test_id("due-at")).to_contain_text(due_in_tokyo.strftime("%H:%M"))
    page.screenshot(path=screenshot_path(request.config, "hub-ticket-opened"), full_page=True)

    # The agent sees it first in the queue (it breaches first) and replies publicly.
    agent_context = chromium_browser.new_context(base_url=live_server.url)
    try:
        agent = agent_context.new_page()
        login(agent, "alice", PASSWORD)
        agent.goto("/console/")
        first_row = agent.locator("tr[data-ticket]").first
        expect(first_row).to_have_attribute("data-ticket", ticket.reference)
        first_row.get_by_role("link", name=ticket.reference).click()
        agent.fill('textarea[name="body"]', "We are on it: the master node lost its disk.")
        expect(agent.locator('input[name="visibility"][value="public"]')).to_be_checked()
        agent.get_by_role("button", name="Send").click()
        expect(agent.get_by_test_id("first-response")).to_contain_text("Met")
        agent.screenshot(
            path=screenshot_path(request.config, "console-first-response-met"), full_page=True
        )
    finally:
        agent_context.close()

    ticket.refresh_from_db()
    assert ticket.first_response_status == FirstResponseStatus.MET

    # The contact sees the reply and the met first response.
    page.reload()
    expect(page.get_by_test_id("first-response")).to_contain_text("Met")
    expect(page.get_by_text("the master node lost its disk")).to_be_visible()
