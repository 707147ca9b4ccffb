"""`supporthub worker`: the task backend's worker, plus the registered periodic jobs."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess  # noqa: S404
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from supporthub.worker.queue import wake_all
from supporthub.worker.registry import Periodic, periodic_jobs

logger = logging.getLogger("supporthub.worker")
# The database backend keeps a row per finished task (one per wake-up): clear the old ones.
PRUNE_EVERY = 3600.0
# prctl(2)'s option that has the kernel signal a process when its parent dies (Linux only).
PR_SET_PDEATHSIG = 1


def backend_worker_command() -> list[str]:
    """The command line of the configured backend's own worker."""
    run = [sys.executable, "-m", "supporthub"]
    if settings.TASKS_BACKEND == "rq":
        return [*run, "rqworker", "--job-class", "django_tasks_rq.Job", "default"]
    # Never the autoreloader (db_worker's default under DEBUG): it would run the tasks in a
    # grandchild, which the death signal below does not reach.
    return [*run, "db_worker", "--queue-name", "default", "--interval", "1", "--no-reload"]


def death_signal() -> signal.Signals:
    """The signal the backend's worker gets when `supporthub worker` dies.

    db_worker is killed outright: on SIGTERM it would finish its current task first (a drain
    can take many seconds), unsupervised all that time, and nothing is lost by the kill, since
    the rows are the truth and a claim whose holder is gone is recovered in seconds. rqworker
    gets SIGTERM, its warm shutdown: it runs each job in a work horse of its own, which a
    SIGKILL of rqworker would leave behind, and which its shutdown waits for and reaps.
    """
    return signal.SIGTERM if settings.TASKS_BACKEND == "rq" else signal.SIGKILL


def dies_with_parent(signum: int) -> Callable[[], None] | None:
    """A `preexec_fn` that has the child sent `signum` when this process dies (Linux's
    PR_SET_PDEATHSIG; None elsewhere, where the child is only stopped on a clean exit).

    The kernel sends it when the *thread* that forked the child ends, so call Popen from the
    main thread (the command does: it also sets signal handlers, which only it may). If the
    parent died before prctl ran, the child is already an orphan and exits at once.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, before the fork
    parent = os.getpid()

    def preexec() -> None:
        if prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0 or os.getppid() != parent:
            os._exit(1)

    return preexec


class Command(BaseCommand):
    help = (
        "Run the task backend's worker and, in this process, the periodic jobs (the outbox "
        "reconciler every minute, and whatever else the installed apps register)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cycles",
            type=int,
            default=None,
            help="stop after this many rounds of due jobs (default: run until stopped)",
        )

    def handle(self, *args: Any, cycles: int | None, **options: Any) -> None:
        jobs = periodic_jobs()
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

        command = backend_worker_command()
        # Popen from the main thread: the death signal follows the thread that forks.
        child = subprocess.Popen(  # noqa: S603
            command, preexec_fn=dies_with_parent(death_signal())
        )
        # A fresh worker first drains whatever is waiting (its wake-up may have died with the
        # worker before it), instead of waiting for a reconciler's first minute.
        wake_all()
        logger.info(
            "Worker started (pid %d, backend %s); periodic jobs: %s",
            child.pid,
            settings.TASKS_BACKEND,
            ", ".join(f"{job.name} every {job.every:g}s" for job in jobs) or "none",
        )
        rounds = 0
        next_at = {job.name: 0.0 for job in jobs}  # every job runs once at start
        pruned_at: float | None = None
        try:
            while not stop.is_set():
                now = time.monotonic()
                for job in jobs:
                    if next_at[job.name] <= now and not stop.is_set():
                        self._run(job)
                        next_at[job.name] = time.monotonic() + job.every
                if settings.TASKS_BACKEND == "db" and (
                    pruned_at is None or time.monotonic() - pruned_at >= PRUNE_EVERY
                ):
                    self._prune()
                    pruned_at = time.monotonic()
                rounds += 1
                if cycles is not None and rounds >= cycles:
                    break
                deadline = min(next_at.values(), default=time.monotonic() + PRUNE_EVERY)
                while not stop.is_set() and time.monotonic() < deadline:
                    if child.poll() is not None:
                        raise CommandError(f"The task worker exited with status {child.returncode}")
                    stop.wait(min(1.0, max(0.0, deadline - time.monotonic())))
        finally:
            _stop(child)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("Worker stopped")

    def _run(self, job: Periodic) -> None:
        # One failed run (a database restart, Redis down) must not end the loop: the rows
        # wait, and the job's next run finds them. A connection the failure left broken is
        # dropped, as Django does after a request, so the next run opens a new one.
        try:
            job.run()
        except Exception:
            logger.exception("Periodic job %r failed; trying again in %gs", job.name, job.every)
            close_old_connections()

    def _prune(self) -> None:
        try:
            # Failed tasks stay a fortnight, for whoever looks into why.
            call_command(
                "prune_db_task_results",
                "--min-age-days",
                "1",
                "--failed-min-age-days",
                "14",
                verbosity=0,
            )
        except Exception:
            logger.exception("Pruning finished task rows failed; trying again next hour")


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
