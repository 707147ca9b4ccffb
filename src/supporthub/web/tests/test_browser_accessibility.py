"""WCAG 2.1 AA on the pages people use most (axe-core in Debian's chromium), and every one
of them usable on a 390 px wide phone: nothing wider than the screen but tables, which
scroll inside their card."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, ViewportSize, expect

from supporthub.staff.models import Role
from supporthub.testing import factories as f
from supporthub.testing.axe import axe_violations, too_wide
from supporthub.testing.browser import login
from supporthub.tickets.models import Ticket

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests"  # the factories' password
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


def _incident(page: Page) -> Ticket:
    page.goto("/hub/new/")
    page.check('input[name="severity"][value="2"]')
    page.fill('input[name="subject"]', "Nightly reindex failed")
    page.fill('textarea[name="body"]', "Since the upgrade.")
    page.get_by_role("button", name="Submit incident").click()
    expect(page.get_by_test_id("reference")).to_be_visible()
    return Ticket.objects.get()


@pytest.fixture
def people(transactional_db: None) -> None:
    northwind = f.organisation(name="Northwind", time_zone="America/Chicago")
    f.subscribe(northwind, level="enterprise")
    f.add_contact(
        northwind, "Carol Diaz", user=User.objects.create_user("carol", password=PASSWORD)
    )
    f.staff(user__username="alice", role_codes=[Role.SUPPORT_ENGINEER])


def _check(page: Page, path: str, found: dict[str, list[str]]) -> None:
    page.goto(path)  # an error page too: its status is not the point here
    page.wait_for_load_state("networkidle")
    problems = axe_violations(page)
    page.set_viewport_size(PHONE)
    problems.extend(too_wide(page))
    page.set_viewport_size(DESKTOP)
    if problems:
        found[path] = problems


def _fits_a_phone(page: Page, path: str, found: dict[str, list[str]]) -> None:
    """Every other console page: usable at 390 px (axe's checks are for the main pages)."""
    page.set_viewport_size(PHONE)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    problems = too_wide(page)
    page.set_viewport_size(DESKTOP)
    if problems:
        found[path] = problems


def test_the_main_pages_meet_wcag_21_aa_and_fit_a_phone(page: Page, people: None) -> None:
    found: dict[str, list[str]] = {}
    _check(page, "/login/", found)
    login(page, "carol", PASSWORD)
    _check(page, "/hub/", found)
    _check(page, "/hub/new/", found)
    ticket = _incident(page)
    _check(page, f"/hub/tickets/{ticket.pk}/", found)
    page.context.clear_cookies()
    login(page, "alice", PASSWORD)
    _check(page, "/console/", found)
    _check(page, f"/console/tickets/{ticket.pk}/", found)
    _check(page, "/console/tickets/999999/", found)  # the 404 page
    for path in ("/", "/console/hot-items/", "/console/on-call/", "/console/reports/sla/"):
        _fits_a_phone(page, path, found)
    _fits_a_phone(page, "/console/voicemail/", found)
    report = "\n".join(f"{path}\n  " + "\n  ".join(lines) for path, lines in found.items())
    assert not found, report
