"""DATABASE_URL and DATABASE_PREPARED_STATEMENTS: what the settings make of them."""

from __future__ import annotations

import runpy
from typing import Any

import pytest

import supporthub.settings as live_settings


def _database(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found = runpy.run_path(live_settings.__file__)
    database: dict[str, Any] = found["DATABASES"]["default"]
    return database


def test_postgresql_binds_on_the_server_and_prepares_repeated_statements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_PREPARED_STATEMENTS", raising=False)
    database = _database(monkeypatch, DATABASE_URL="postgres://postgres@127.0.0.1:5432/x")
    assert database["OPTIONS"]["server_side_binding"] is True
    assert database["OPTIONS"]["prepare_threshold"] == 2


def test_prepared_statements_can_be_turned_off_for_a_pooler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = _database(
        monkeypatch,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/x",
        DATABASE_PREPARED_STATEMENTS="false",
    )
    assert database["OPTIONS"]["server_side_binding"] is True
    assert "prepare_threshold" not in database["OPTIONS"]


def test_sqlite_has_neither(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    database = _database(monkeypatch, DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert "server_side_binding" not in database["OPTIONS"]
    assert "prepare_threshold" not in database["OPTIONS"]


def test_a_bad_switch_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="DATABASE_PREPARED_STATEMENTS"):
        _database(
            monkeypatch,
            DATABASE_URL="postgres://postgres@127.0.0.1:5432/x",
            DATABASE_PREPARED_STATEMENTS="sometimes",
        )
