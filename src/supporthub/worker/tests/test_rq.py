"""The RQ backend (TASKS_BACKEND=rq) against the local Redis, and without one."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.management import call_command
from django.test import override_settings
from django_tasks import TaskResultStatus

from supporthub.notify import delivery, tasks

REDIS_URL = "redis://127.0.0.1:6379/0"


def _rq_settings(url: str, queue: str = "default") -> override_settings:
    return override_settings(
        TASKS={"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [queue]}},
        # django-rq looks results up through the "default" queue's connection.
        RQ_QUEUES={name: {"URL": url, "DEFAULT_TIMEOUT": 60} for name in ("default", queue)},
    )


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def test_wake_with_redis_unreachable_logs_and_does_not_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on port 1: the broker is "down".
    with _rq_settings("redis://127.0.0.1:1/0"), caplog.at_level(logging.WARNING):
        delivery.wake()

    [record] = [r for r in caplog.records if r.name == "supporthub.worker"]
    assert "Could not wake a worker" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], redis.ConnectionError)


@pytest.fixture
def rq_queue() -> Iterator[str]:
    if not _redis_up():
        pytest.skip(f"Redis is not reachable at {REDIS_URL} (.ci/run starts it)")
    # A queue of this test's own, so a suite running beside it never takes its job.
    name = f"test-{uuid.uuid4().hex}"
    yield name
    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(f"rq:*{name}*"):
        connection.delete(key)


def test_rq_worker_in_burst_mode_runs_an_enqueued_task(
    rq_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def deliver_due(**kwargs: Any) -> int:
        calls.append(kwargs)
        return 2

    monkeypatch.setattr(tasks, "outbox_deliver_due", deliver_due)
    with _rq_settings(REDIS_URL, rq_queue):
        result = tasks.deliver_outbox.using(queue_name=rq_queue).enqueue()
        queued = result.status
        assert queued == TaskResultStatus.READY

        call_command(
            "rqworker",
            rq_queue,
            "--burst",
            "--job-class",
            "django_tasks_rq.Job",
            # In-process, so the patched outbox is the one the task sees.
            "--worker-class",
            "rq.worker.SimpleWorker",
        )

        result.refresh()
        assert result.status == TaskResultStatus.SUCCESSFUL
        assert result.return_value == 2
    assert calls == [{"limit": tasks.BATCH}]
