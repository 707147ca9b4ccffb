"""The Support Hub in a real browser: the htmx due-time preview, opening an incident, and a
reply swapped into the conversation without leaving the page."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import FilePayload, Page, expect

from supporthub.testing import factories as f
from supporthub.testing.browser import login, screenshot_path
from supporthub.tickets.models import Channel, Status, Ticket

from .helpers import PASSWORD

pytestmark = pytest.mark.browser


def test_contact_opens_an_incident_with_a_live_due_preview_and_replies_in_place(
    page: Page, request: pytest.FixtureRequest
) -> None:
    northwind = f.organisation(name="Northwind", time_zone="America/Chicago")
    f.subscribe(northwind, level="enterprise")  # Premium: 30 minutes / 4 hours / 1 business day
    f.add_contact(
        northwind,
        "Carol Diaz",
        user=User.objects.create_user("carol", password=PASSWORD),
        time_zone="Asia/Tokyo",
    )
    login(page, "carol", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind tickets")

    page.goto("/hub/new/")
    preview = page.get_by_test_id("due-preview")
    expect(preview).to_contain_text("1 business day")  # the default severity, 3
    page.check('input[name="severity"][value="2"]')
    expect(preview).to_contain_text("Target Initial Response 4 hours")
    page.check('input[name="severity"][value="1"]')
    expect(preview).to_contain_text("Target Initial Response 30 minutes")
    expect(preview).to_contain_text("JST")
    page.fill('input[name="subject"]', "Production cluster unreachable")
    page.fill('textarea[name="body"]', "All nodes time out since 09:12.")
    health: FilePayload = {"name": "health.json", "mimeType": "application/json", "buffer": b"{}"}
    page.set_input_files('input[name="attachments"]', [health])
    page.screenshot(path=screenshot_path(request.config, "hub-new-incident"), full_page=True)
    page.get_by_role("button", name="Submit incident").click()

    expect(page.get_by_test_id("reference")).to_be_visible()
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.severity) == (Channel.HUB, 1)
    assert ticket.first_response_due_at == ticket.received_at + timedelta(minutes=30)
    due = ticket.first_response_due_at.astimezone(ZoneInfo("Asia/Tokyo"))
    expect(page.get_by_test_id("reference")).to_have_text(ticket.reference)
    expect(page.get_by_test_id("due-at")).to_contain_text(due.strftime("%a %d %b %Y, %H:%M"))
    expect(page.locator(".flash")).to_contain_text(f"{ticket.reference} opened")
    expect(page.get_by_test_id("first-response")).to_contain_text("left")  # the countdown runs
    expect(page.get_by_role("link", name="health.json")).to_be_visible()

    url = page.url
    page.fill('textarea[name="body"]', "The master node reports a full disk.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_have_text("Your reply was added.")
    expect(page.locator("#conversation")).to_contain_text("The master node reports a full disk.")
    expect(page.locator('textarea[name="body"]')).to_have_value("")
    assert page.url == url  # swapped in place by htmx, no navigation
    page.screenshot(path=screenshot_path(request.config, "hub-ticket"), full_page=True)
    assert ticket.messages.count() == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
