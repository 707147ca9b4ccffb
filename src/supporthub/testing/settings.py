"""The settings module as it reads a given environment, for tests of settings."""

from __future__ import annotations

import runpy
from collections.abc import Iterable
from typing import Any

import pytest

import supporthub.settings as live_settings


def settings_read(
    monkeypatch: pytest.MonkeyPatch, *, cleared: Iterable[str] = (), **env: str
) -> dict[str, Any]:
    """A fresh copy of the settings module's names, read with `cleared` unset and `env` set
    (undone after the test); the live settings are untouched."""
    for name in cleared:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(live_settings.__file__)
