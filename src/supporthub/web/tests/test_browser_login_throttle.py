"""The lockout page in a real browser: what a person sees after too many wrong passwords,
on a desktop and on a 390 px phone, accessible and within the screen."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, ViewportSize, expect

from supporthub.testing.axe import axe_violations, too_wide
from supporthub.testing.browser import login, screenshot_path

pytestmark = pytest.mark.browser

RIGHT = "the-Right-passphrase-2026"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


def test_too_many_wrong_passwords_show_the_wait(
    page: Page, transactional_db: None, request: pytest.FixtureRequest
) -> None:
    User.objects.create_user("carol", "carol@initech.example", RIGHT)
    for n in range(4):
        login(page, "carol", f"guess-{n}")
        expect(page.get_by_role("alert")).to_contain_text("enter a correct username")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        login(page, "carol", "guess-4")
    assert answer.value.status == 429
    expect(page.get_by_role("heading", level=1)).to_have_text("Too many failed logins")
    expect(page.get_by_role("alert")).to_contain_text("Wait about 5 minutes")

    problems = axe_violations(page)
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        problems.extend(too_wide(page))
        page.screenshot(
            path=screenshot_path(request.config, f"login-locked-{name}"), full_page=True
        )
    assert problems == []

    page.set_viewport_size(DESKTOP)
    login(page, "carol", RIGHT)  # the right password, still within the wait
    expect(page.get_by_role("heading", level=1)).to_have_text("Too many failed logins")
