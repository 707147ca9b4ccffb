from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from supporthub.testing.database import drop_this_connection
from supporthub.worker.management.commands import worker
from supporthub.worker.registry import Periodic, periodic_jobs


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """Replace the backend's worker by a sleeping child, and keep hold of it."""
    children: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        child = real_popen([sys.executable, "-c", "import time; time.sleep(60)"])
        children.append(child)
        return child

    monkeypatch.setattr(subprocess, "Popen", popen)
    return children


def test_worker_runs_each_periodic_job_at_its_interval_and_stops_its_backend_worker(
    spawned: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []
    jobs = [
        Periodic(name="fast", every=0.05, run=lambda: runs.append("fast")),
        Periodic(name="slow", every=30, run=lambda: runs.append("slow")),
    ]
    monkeypatch.setattr(worker, "periodic_jobs", lambda: jobs)
    monkeypatch.setattr(worker.Command, "_prune", lambda self: runs.append("prune"))

    call_command("worker", "--cycles", "3")

    # Every job runs at start; finished task rows are pruned at start, then hourly; the slow
    # job waits its 30 s while the fast one runs again.
    assert runs == ["fast", "slow", "prune", "fast", "fast"]
    [child] = spawned
    assert child.poll() is not None  # stopped with the command, not left behind


def test_a_failing_job_does_not_stop_the_others(
    spawned: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []

    def broken() -> None:
        runs.append("broken")
        raise RuntimeError("database restarting")

    jobs = [
        Periodic(name="a broken", every=0.05, run=broken),
        Periodic(name="b fine", every=0.05, run=lambda: runs.append("fine")),
    ]
    monkeypatch.setattr(worker, "periodic_jobs", lambda: jobs)
    monkeypatch.setattr(worker.Command, "_prune", lambda self: None)

    call_command("worker", "--cycles", "2")

    assert runs == ["broken", "fine", "broken", "fine"]


def test_the_outbox_reconciler_is_registered_every_minute() -> None:
    [job] = [job for job in periodic_jobs() if job.name == "outbox reconciler"]
    assert job.every == 60


def test_worker_fails_when_its_backend_worker_dies(
    spawned: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        worker,
        "periodic_jobs",
        lambda: [Periodic(name="kill", every=5, run=lambda: spawned[0].kill())],
    )
    monkeypatch.setattr(worker.Command, "_prune", lambda self: None)

    with pytest.raises(CommandError, match="The task worker exited"):
        call_command("worker")


def test_the_backend_worker_command_follows_tasks_backend(settings: Any) -> None:
    settings.TASKS_BACKEND = "rq"
    assert worker.backend_worker_command()[3:] == [
        "rqworker",
        "--job-class",
        "django_tasks_rq.Job",
        "default",
    ]
    settings.TASKS_BACKEND = "db"
    assert worker.backend_worker_command()[3] == "db_worker"


@pytest.mark.django_db
def test_pruning_clears_finished_task_rows_a_day_old_and_keeps_the_rest() -> None:
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from supporthub.worker.tasks import deliver_outbox

    old, recent, failed, queued = (deliver_outbox.enqueue().id for _ in range(4))
    now = timezone.now()
    DBTaskResult.objects.filter(id=old).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=now - timedelta(days=2)
    )
    DBTaskResult.objects.filter(id=recent).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=now - timedelta(hours=2)
    )
    DBTaskResult.objects.filter(id=failed).update(
        status=TaskResultStatus.FAILED, finished_at=now - timedelta(days=2)
    )

    worker.Command()._prune()

    left = {str(pk) for pk in DBTaskResult.objects.values_list("id", flat=True)}
    assert left == {recent, failed, queued}


@pytest.mark.django_db(transaction=True)
def test_a_periodic_job_reconnects_after_the_database_dropped_its_connection() -> None:
    """A PostgreSQL restart kills the worker's connection: the next run opens a new one
    (Django reconnects only between requests, and the worker has none)."""
    from django.contrib.auth.models import User
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a server that drops its clients is PostgreSQL's case")
    outcomes: list[str] = []

    def probe() -> None:
        try:
            User.objects.count()
        except Exception as exc:
            outcomes.append(type(exc).__name__)
            raise
        outcomes.append("ok")

    command = worker.Command()
    job = Periodic(name="probe", every=1.0, run=probe)
    command._run(job)
    drop_this_connection()
    command._run(job)  # fails on the dead connection (and is logged)
    command._run(job)
    assert outcomes == ["ok", "OperationalError", "ok"]
