"""Single sign-on in a real browser: the button on the login page, the loopback provider's
own login form, and back to the Hub signed in, under the site's Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect
from pytest_django.live_server_helper import LiveServer

from supporthub.testing import factories as f
from supporthub.testing import idp
from supporthub.web.tests.conftest import SSO_LABEL

pytestmark = pytest.mark.browser


def _sign_in_at_provider(page: Page, username: str) -> None:
    page.get_by_role("link", name=f"Sign in with {SSO_LABEL}").click()
    expect(page.get_by_role("heading", name="Loopback identity provider")).to_be_visible()
    page.get_by_label("Provider username").fill(username)
    page.get_by_label("Provider password").fill(idp.PASSWORD)
    page.get_by_role("button", name="Sign in at the provider").click()


def test_staff_member_signs_in_with_the_provider_and_reaches_the_queues(
    page: Page, live_server: LiveServer, sso: idp.LoopbackProvider
) -> None:
    f.staff(user__username="alice.hub", user__email="alice@supporthub.example")
    refused: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", on_console)

    page.goto("/console/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/console/")
    _sign_in_at_provider(page, "alice")

    expect(page).to_have_url(f"{live_server.url}/console/")
    expect(page.get_by_text("alice.hub", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Queues")).to_be_visible()
    assert refused == []


def test_unverified_address_is_told_why_on_the_login_page(
    page: Page, live_server: LiveServer, sso: idp.LoopbackProvider
) -> None:
    f.staff(user__username="u", user__email="unverified@supporthub.example")

    page.goto("/login/")
    _sign_in_at_provider(page, "unverified")

    expect(page).to_have_url(f"{live_server.url}/login/")
    expect(page.locator(".flash li.error")).to_contain_text(
        f"{SSO_LABEL} has not verified your email address unverified@supporthub.example"
    )
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
