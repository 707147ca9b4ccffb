"""Suite-wide fixtures: the network is blocked; tests talk only to loopback servers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from supporthub.testing.world import World

# Real-browser fixtures (chromium_browser, page) and the screenshot-on-failure hook.
pytest_plugins = ["supporthub.testing.browser"]

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (
        host in {"localhost", "::1"} or host.startswith("127.") or host.startswith("/")
    ):
        raise RuntimeError(f"network access blocked in tests: {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _block_network() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _test_settings(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A fast password hasher (real ones cost seconds per test world) and uploads kept in a
    temporary folder, never in the checkout's var/media."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture
def world(db: None) -> World:
    """The named people: Carol of Initech (Base), Olga of Globex, Alice, Amy, Lee."""
    from supporthub.testing.world import make_world

    return make_world()
