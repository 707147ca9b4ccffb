"""The real-browser infrastructure, proven on what exists today: admin login, overview."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from supporthub.testing.browser import login, screenshot_path

pytestmark = pytest.mark.browser

USERNAME = "smoke-admin"
PASSWORD = "smoke-Pass-2026-correct"
LOGIN_PATH = "/admin/login/?next=/"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def superuser(transactional_db: None) -> None:
    get_user_model().objects.create_superuser(USERNAME, "smoke@example.com", PASSWORD)


def test_staff_login_lands_on_the_overview(
    page: Page, live_server: LiveServer, superuser: None, request: pytest.FixtureRequest
) -> None:
    login(page, USERNAME, PASSWORD, path=LOGIN_PATH)

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("First responses due next")
    expect(page.get_by_text(USERNAME, exact=True)).to_be_visible()

    shot = screenshot_path(request.config, f"{request.node.name}-overview")
    shot.unlink(missing_ok=True)
    page.screenshot(path=shot, full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1_000


def test_wrong_password_stays_on_the_login_form(page: Page, superuser: None) -> None:
    login(page, USERNAME, "not-the-password", path=LOGIN_PATH)

    expect(page.locator("p.errornote")).to_be_visible()
    expect(page.locator('input[name="password"]')).to_be_visible()
    expect(page.get_by_role("heading", name="First responses due next")).to_have_count(0)
    assert "/admin/login/" in page.url


def test_each_new_page_has_a_login_of_its_own(
    page: Page, new_page: Callable[[], Page], superuser: None
) -> None:
    login(page, USERNAME, PASSWORD, path=LOGIN_PATH)
    expect(page.get_by_role("heading", level=1)).to_have_text("First responses due next")

    stranger = new_page()  # a second person: a context of its own, no session cookie
    stranger.goto("/")
    expect(stranger).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(stranger.locator('input[name="password"]')).to_be_visible()
