"""Real-browser test fixtures: Playwright's sync API driving Debian's chromium.

Registered from the root conftest.py (``pytest_plugins``). A test that asks for ``page`` gets
a fresh browser context on pytest-django's ``live_server`` (so a transactional database),
the ``browser`` marker, and a screenshot in ``var/test-screenshots/<test name>.png`` when it
fails; ``new_page()`` makes more pages, each with its own context (a second person).
Playwright never downloads a browser: it launches ``/usr/bin/chromium``, which
``scripts/ensure-chromium`` installs with apt.

Playwright's sync API runs an asyncio event loop in a greenlet of the test's own thread, and
marks that loop as the thread's running loop between calls. Two consequences, both handled
here: Django's ORM refuses to run while a loop runs (``SynchronousOnlyOperation``), so the
``page`` fixture sets ``DJANGO_ALLOW_ASYNC_UNSAFE`` for the test; and the mark would outlive
the test and break every later test of the same worker process (the browser is
session-scoped), so the mark is cleared when each test ends and set again before the next
Playwright call made from a fixture. While the mark is on, Django hands the thread separate
database connections (asgiref's Local follows the loop); they are closed with the mark.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from pytest_django.live_server_helper import LiveServer

# Never fetch a browser, whatever calls into Playwright's installer.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # chromium refuses to run as root with its sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these chromium phones Google, and the refused connections slow it down.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Containers often give /dev/shm only 64 MB; chromium then crashes on big pages.
    "--disable-dev-shm-usage",
)
DEFAULT_TIMEOUT_MS = 10_000
SCREENSHOT_DIR = Path("var") / "test-screenshots"  # relative to pytest's rootdir

_ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
_PAGES = pytest.StashKey[list[Page]]()  # the test's pages, for the failure screenshots
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class _PlaywrightLoop:
    """The event loop of this process's Playwright, while one runs."""

    loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def enter(cls) -> None:
        """Mark Playwright's loop as running again, as its sync calls expect."""
        if cls.loop is not None and not cls.loop.is_closed():
            asyncio._set_running_loop(cls.loop)

    @classmethod
    def leave(cls) -> None:
        """Unmark it, so that code outside browser tests sees no running loop.

        Django keeps a thread's database connections apart while a loop runs (asgiref's
        thread-critical Local), so the ORM calls of a browser test open connections of
        their own. Nothing else closes them: a PostgreSQL session left open would keep
        the test database from being dropped at the end of the run.
        """
        if cls.loop is None or asyncio._get_running_loop() is not cls.loop:
            return
        from django.db import connections

        previous = os.environ.get(_ASYNC_UNSAFE)
        os.environ[_ASYNC_UNSAFE] = "true"
        try:
            connections.close_all()
        finally:
            _restore_env(_ASYNC_UNSAFE, previous)
            asyncio._set_running_loop(None)


def _restore_env(name: str, previous: str | None) -> None:
    if previous is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = previous


def screenshot_path(config: pytest.Config, name: str) -> Path:
    """``var/test-screenshots/<name>.png`` under the rootdir; the folder exists afterwards."""
    folder = config.rootpath / SCREENSHOT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{_SAFE_NAME.sub('_', name).strip('_') or 'screenshot'}.png"


def login(page: Page, username: str, password: str, path: str = "/login/") -> None:
    """Log in through the Django login form at ``path`` (relative to the live server).

    Fills the fields named ``username`` and ``password``, submits their form, and returns
    once the page the form leads to has loaded: the ``next`` page on success, the form
    again (with its error) on failure. Assert on the page to know which.
    """
    page.goto(path)
    username_field = page.locator('input[name="username"]')
    password_field = page.locator('input[name="password"]')
    username_field.fill(username)
    password_field.fill(password)
    form = page.locator("form").filter(has=password_field)
    submit = form.locator('button[type="submit"], button:not([type]), input[type="submit"]').first
    with page.expect_navigation():
        submit.click()


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """One headless Debian chromium per test process (so per xdist worker)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/ensure-chromium "
            "(apt-get install chromium chromium-driver)",
            pytrace=False,
        )
    playwright: Playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=list(CHROMIUM_ARGS),
            timeout=60_000,
        )
    except BaseException:
        playwright.stop()
        raise
    _PlaywrightLoop.loop = asyncio.get_running_loop()
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    _PlaywrightLoop.leave()
    try:
        yield browser
    finally:
        _PlaywrightLoop.enter()
        try:
            browser.close()
        finally:
            playwright.stop()
            _PlaywrightLoop.leave()
            _PlaywrightLoop.loop = None


@pytest.fixture
def allow_async_unsafe() -> Iterator[None]:
    """Let the ORM run while Playwright's loop counts as running; restored afterwards."""
    previous = os.environ.get(_ASYNC_UNSAFE)
    os.environ[_ASYNC_UNSAFE] = "true"
    try:
        yield
    finally:
        _restore_env(_ASYNC_UNSAFE, previous)


@pytest.fixture
def new_page(
    request: pytest.FixtureRequest,
    chromium_browser: Browser,
    live_server: LiveServer,
    transactional_db: None,
    allow_async_unsafe: None,
) -> Iterator[Callable[[], Page]]:
    """Make pages, each in a browser context of its own (its own cookies: its own login).

    For tests with two people at once, e.g. a customer and an agent. Every context gets
    the live server as base_url and the default timeouts; all are closed after the test.
    """
    contexts: list[BrowserContext] = []
    pages = request.node.stash.setdefault(_PAGES, [])
    for stale in (request.node.name, *(f"{request.node.name}-{n}" for n in range(2, 6))):
        # A failure screenshot in the folder is then always from the latest run of its test.
        screenshot_path(request.config, stale).unlink(missing_ok=True)

    def make() -> Page:
        _PlaywrightLoop.enter()
        context = chromium_browser.new_context(
            base_url=live_server.url,
            viewport={"width": 1280, "height": 900},
            locale="en-GB",
            timezone_id="UTC",
        )
        contexts.append(context)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
        page = context.new_page()
        pages.append(page)
        return page

    try:
        yield make
    finally:
        # Closed before the transactional_db flush: no request of this test is left.
        _PlaywrightLoop.enter()
        try:
            for context in contexts:
                context.close()
        finally:
            _PlaywrightLoop.leave()


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    """A page in a new browser context whose base_url is the live server."""
    return new_page()


def _uses_browser(item: pytest.Item) -> bool:
    return "chromium_browser" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that drives the browser is a browser test, marked or not: `-m "not browser"`.
    for item in items:
        if _uses_browser(item) and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    if _uses_browser(item):
        _PlaywrightLoop.enter()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        _PlaywrightLoop.leave()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failed test, a screenshot of each of its pages: ``<test>.png``, ``<test>-2.png``…"""
    report = yield
    pages = item.stash.get(_PAGES, [])
    if report.when != "call" or not report.failed or not pages:
        return report
    _PlaywrightLoop.enter()
    lines = []
    for number, page in enumerate(pages, start=1):
        if page.is_closed():
            continue
        path = screenshot_path(item.config, item.name if number == 1 else f"{item.name}-{number}")
        try:
            page.screenshot(path=path, full_page=True)
        except Exception as exc:  # the test's own failure is the one to report
            lines.append(f"no screenshot of {page.url}: {exc}")
        else:
            lines.append(f"screenshot of {page.url}: {path}")
    if lines:
        report.sections.append(("browser at the failure", "\n".join(lines)))
    return report
