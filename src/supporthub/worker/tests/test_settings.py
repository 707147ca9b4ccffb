from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from supporthub.testing.settings import settings_read


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    return settings_read(monkeypatch, **env)


def test_the_database_backend_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKS_BACKEND", raising=False)

    tasks = _settings(monkeypatch)["TASKS"]

    assert tasks == {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }


def test_tasks_backend_rq_puts_the_queue_on_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _settings(monkeypatch, TASKS_BACKEND="rq", REDIS_URL="redis://10.0.0.5:6380/2")

    assert found["TASKS"] == {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}
    }
    assert found["RQ_QUEUES"] == {
        "default": {
            "URL": "redis://10.0.0.5:6380/2?socket_connect_timeout=2",
            "DEFAULT_TIMEOUT": 300,
        }
    }


def test_an_unknown_tasks_backend_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"^TASKS_BACKEND='celery' is not a task backend"
    ):
        _settings(monkeypatch, TASKS_BACKEND="celery")


def test_a_connect_timeout_in_redis_url_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    found = _settings(monkeypatch, REDIS_URL="redis://redis:6379/0?socket_connect_timeout=5")

    assert found["REDIS_URL"] == "redis://redis:6379/0?socket_connect_timeout=5"


def test_a_redis_url_that_is_not_one_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^REDIS_URL='127.0.0.1:6379' is not a redis"):
        _settings(monkeypatch, REDIS_URL="127.0.0.1:6379")
