"""The Content-Security-Policy in a real browser: every page a person uses runs, and breaks
none of its rules (an inline script or style, eval, another origin would be reported)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from playwright.sync_api import ConsoleMessage, Page, expect

from supporthub.staff.models import Role
from supporthub.testing import factories as f
from supporthub.testing.browser import login
from supporthub.tickets.models import Ticket

pytestmark = pytest.mark.browser

PASSWORD = "pw-for-tests"  # the factories' password
# Registered before any of the page's own code runs (Playwright's init scripts are not the
# page's: the policy does not apply to them).
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def violations(page: Page) -> Iterator[list[str]]:
    """What the browser refused on every page of the test: console reports and events."""
    seen: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.append(message.text)

    page.add_init_script(LISTEN)
    page.on("console", on_console)
    yield seen


def _visit(page: Page, path: str, seen: list[str]) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    seen.extend(page.evaluate("window.__cspViolations || []"))


def test_hub_pages_run_under_the_policy(page: Page, violations: list[str]) -> None:
    northwind = f.organisation(name="Northwind", time_zone="America/Chicago")
    f.subscribe(northwind, level="enterprise")
    f.add_contact(
        northwind, "Carol Diaz", user=User.objects.create_user("carol", password=PASSWORD)
    )
    login(page, "carol", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind tickets")
    _visit(page, "/hub/new/", violations)
    page.check('input[name="severity"][value="2"]')  # htmx swaps the due-time preview
    expect(page.get_by_test_id("due-preview")).to_contain_text("Target Initial Response 4 hours")
    page.fill('input[name="subject"]', "Nightly reindex failed")
    page.fill('textarea[name="body"]', "Since the upgrade.")
    page.get_by_role("button", name="Submit incident").click()
    expect(page.get_by_test_id("reference")).to_be_visible()
    expect(page.get_by_test_id("first-response")).to_contain_text("left")  # countdown.js runs
    violations.extend(page.evaluate("window.__cspViolations"))
    _visit(page, "/hub/", violations)
    assert violations == []


def test_console_admin_and_api_docs_run_under_the_policy(page: Page, violations: list[str]) -> None:
    northwind = f.organisation(name="Northwind")
    f.subscribe(northwind, level="enterprise")
    f.add_contact(northwind, "Carol", user=User.objects.create_user("carol", password=PASSWORD))
    alice = f.staff(user__username="alice", role_codes=[Role.SUPPORT_ENGINEER])
    user = alice.user
    assert isinstance(user, User)
    user.is_staff = user.is_superuser = True
    user.save()
    login(page, "carol", PASSWORD)
    page.goto("/hub/new/")
    page.fill('input[name="subject"]', "Reindex failed")
    page.fill('textarea[name="body"]', "Since the upgrade.")
    page.get_by_role("button", name="Submit incident").click()
    expect(page.get_by_test_id("reference")).to_be_visible()
    ticket = Ticket.objects.get()
    page.context.clear_cookies()

    login(page, "alice", PASSWORD)
    for path in (
        "/",
        "/console/",
        f"/console/tickets/{ticket.pk}/",
        "/console/reports/sla/",
        "/console/on-call/",
        "/admin/",
        "/admin/customers/supportcontact/",
        f"/admin/customers/organisation/{northwind.pk}/change/",
        "/api/docs",
    ):
        _visit(page, path, violations)
    expect(page.locator("#swagger-ui")).to_contain_text("tickets")  # Swagger UI ran
    assert violations == []
    assert get_user_model().objects.filter(username="alice", is_superuser=True).exists()
