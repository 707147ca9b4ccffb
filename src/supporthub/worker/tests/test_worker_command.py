from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from supporthub.testing.database import drop_this_connection
from supporthub.worker.management.commands import worker
from supporthub.worker.registry import Periodic, periodic_jobs

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
PR_GET_PDEATHSIG = 2


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """Replace the backend's worker by a sleeping child (started as the command starts it,
    death signal included), and keep hold of it; the start's wake-up is left out."""
    children: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        child = real_popen(SLEEPER, **kwargs)
        children.append(child)
        return child

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(worker, "wake_all", lambda: None)
    return children


def _gone(pid: int, *, within: float) -> bool:
    """Whether process `pid` has ended (exited or a zombie nobody reaped yet) in time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in {"Z", "X"}:
            return True
        time.sleep(0.05)
    return False


linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's"
)


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


def test_a_fresh_worker_wakes_every_queue_once_its_backend_worker_is_started(
    spawned: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    monkeypatch.setattr(worker, "wake_all", lambda: events.append(f"wake ({len(spawned)})"))
    monkeypatch.setattr(
        worker, "periodic_jobs", lambda: [Periodic("job", 30, lambda: events.append("job"))]
    )
    monkeypatch.setattr(worker.Command, "_prune", lambda self: None)

    call_command("worker", "--cycles", "1")

    # Once, after the child is started (so it is there to take the wake-ups), before any job.
    assert events == ["wake (1)", "job"]


@linux_only
def test_the_backend_worker_is_started_with_its_death_signal_set(
    monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> None:
    """The child asks the kernel itself (prctl PR_GET_PDEATHSIG) which signal it will get."""
    report = tmp_path / "pdeathsig"
    probe = textwrap.dedent(f"""
        import ctypes, pathlib, time
        signum = ctypes.c_int()
        ctypes.CDLL(None).prctl({PR_GET_PDEATHSIG}, ctypes.byref(signum), 0, 0, 0)
        pathlib.Path({str(report)!r}).write_text(str(signum.value))
        time.sleep(60)
    """)
    real_popen = subprocess.Popen
    children: list[subprocess.Popen[bytes]] = []

    def popen(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        children.append(real_popen([sys.executable, "-c", probe], **kwargs))
        return children[-1]

    def reported() -> None:
        deadline = time.monotonic() + 20
        while not report.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(worker, "wake_all", lambda: None)
    monkeypatch.setattr(worker, "periodic_jobs", lambda: [Periodic("wait", 30, reported)])
    monkeypatch.setattr(worker.Command, "_prune", lambda self: None)
    signals = {}
    for backend in ("db", "rq"):
        settings.TASKS_BACKEND = backend
        report.unlink(missing_ok=True)
        call_command("worker", "--cycles", "1")
        signals[backend] = int(report.read_text())

    assert signals == {"db": signal.SIGKILL, "rq": signal.SIGTERM}
    assert all(child.poll() is not None for child in children)


@linux_only
def test_the_backend_worker_dies_with_a_sigkilled_worker(tmp_path: Path) -> None:
    """A real `supporthub worker` process (its backend's worker a sleeper that says its pid)
    is SIGKILLed: no handler runs in it, yet its child is gone within a few seconds."""
    child_pid = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import django, pathlib, subprocess, sys
        django.setup()
        from django.core.management import call_command
        from supporthub.worker.management.commands import worker
        sleeper = [sys.executable, "-c", "import os, pathlib, time; "
                   "pathlib.Path({str(child_pid)!r}).write_text(str(os.getpid())); "
                   "time.sleep(120)"]
        worker.backend_worker_command = lambda: sleeper
        worker.periodic_jobs = lambda: []
        worker.wake_all = lambda: None
        worker.Command._prune = lambda self: None
        call_command("worker")
    """)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "supporthub.settings"}
    parent = subprocess.Popen([sys.executable, "-c", script], env=env)  # noqa: S603
    try:
        deadline = time.monotonic() + 30
        while not child_pid.exists() or not child_pid.read_text():
            assert parent.poll() is None, "the worker exited before starting its child"
            assert time.monotonic() < deadline, "the worker's child never started"
            time.sleep(0.05)
        pid = int(child_pid.read_text())
        assert not _gone(pid, within=0.5)  # it runs while its parent does
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()

    assert _gone(pid, within=5), f"child {pid} outlived its SIGKILLed parent"


@linux_only
def test_a_child_whose_parent_died_before_prctl_ran_exits_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The parent may die between fork and prctl: then no death signal will ever come, so the
    child checks that its parent is still the one that forked it, and exits if not."""
    preexec = worker.dies_with_parent(signal.SIGKILL)
    monkeypatch.setattr(os, "getppid", lambda: 1)  # seen in the fork: reparented to init

    child = subprocess.Popen(SLEEPER, preexec_fn=preexec)  # noqa: S603

    assert child.wait(timeout=10) == 1


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

    from supporthub.notify.tasks import deliver_outbox

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
