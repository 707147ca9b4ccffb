"""Single sign-on fixtures: the loopback OpenID Connect provider, and the Hub pointed at it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import httpx
import pytest
from pytest_django.live_server_helper import LiveServer

from supporthub.testing import idp

SSO_LABEL = "Loopback ID"


@pytest.fixture(scope="session")
def loopback_provider(
    live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[idp.LoopbackProvider]:
    """A django-oidc-provider process on 127.0.0.1, with a client for the live server."""
    provider = idp.LoopbackProvider(
        folder=tmp_path_factory.mktemp("idp"), redirect_uri=f"{live_server.url}/sso/callback/"
    )
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def sso(
    settings: Any, loopback_provider: idp.LoopbackProvider, transactional_db: None
) -> idp.LoopbackProvider:
    """Single sign-on configured as SSO_* in the environment would, for the loopback provider."""
    settings.SSO_ENABLED = True
    settings.SSO_BUTTON_LABEL = SSO_LABEL
    settings.OIDC_RP_CLIENT_ID = idp.CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = idp.CLIENT_SECRET
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    for name, url in loopback_provider.endpoints.items():
        setattr(settings, name, url)
    return loopback_provider


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
    return unescape(found.group(1)) if found else ""


def sign_in(client: httpx.Client, start: str, username: str) -> httpx.Response:
    """Follow the Hub's "Sign in with" button from the page at `start`, log in at the
    provider as `username`, and return the page the redirects end on."""
    page = client.get(start)
    button = re.search(r'<a class="button" href="([^"]+)">Sign in with ', page.text)
    assert button is not None, f"no single sign-on button on {page.url}"
    at_provider = client.get(httpx.URL(str(page.url)).join(unescape(button.group(1))))
    assert at_provider.url.host == "127.0.0.1", at_provider.url
    return client.post(
        at_provider.url,
        data={
            "csrfmiddlewaretoken": _field(at_provider.text, "csrfmiddlewaretoken"),
            "username": username,
            "password": idp.PASSWORD,
            "next": _field(at_provider.text, "next"),
        },
    )


@pytest.fixture
def browser_less() -> Iterator[httpx.Client]:
    """A cookie-keeping HTTP client that follows redirects, as a browser without scripts."""
    with httpx.Client(follow_redirects=True, trust_env=False, timeout=20) as client:
        yield client
