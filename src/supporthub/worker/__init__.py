"""Background work: tasks only wake workers; the queues' rows are the truth (see worker.queue)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


def wake(task: Any) -> None:
    """Ask a worker to run `task` (a django-tasks task) soon; never raises.

    Call it after the rows it should find are committed. With the database backend a wake-up
    already waiting for the same task (READY, not yet taken by a worker) is enough: it starts
    after this call, so it sees every row committed before it. A flood of mail then costs one
    task row and a read per message instead of a write (and its fsync) per message.
    """
    try:
        if _waiting(task):
            return
        task.enqueue()
    except Exception:
        # A broker that is down must not fail the write that called us: the rows are
        # already stored, and the reconciler (or the worker's polling) finds them later.
        logger.warning("Could not wake a worker; the reconciler will retry", exc_info=True)


def drain(step: Callable[..., int], *, batch: int, rounds: int, again: Callable[[], None]) -> int:
    """A delivery task's body: `step(limit=batch)` until a batch comes back short; returns
    how many were taken. After `rounds` full batches it calls `again()` (a wake-up for the
    rest) and returns: one busy queue never holds a worker, or starves the other tasks."""
    total = 0
    for _ in range(rounds):
        taken = step(limit=batch)
        total += taken
        if taken < batch:
            return total
    again()
    return total


def loop(
    step: Callable[[], bool], *, pause: float, once: bool = False, until_idle: bool = False
) -> None:
    """A command's loop: `step()` again and again, at once while it returns True (a full
    batch: more may be waiting), else after `pause` seconds. `once`: one step, then return;
    `until_idle`: return the first time a step finds no more waiting."""
    while True:
        more = step()
        if once or (until_idle and not more):
            return
        if not more:
            time.sleep(pause)


def _waiting(task: Any) -> bool:
    """A wake-up for `task` that no worker has taken yet (database backend only)."""
    # Imported here: this package is imported while the apps load, before any model may be.
    from django_tasks import TaskResultStatus, task_backends
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult, get_date_max

    if not isinstance(task_backends[task.backend], DatabaseBackend):
        return False
    return bool(
        DBTaskResult.objects.filter(
            status=TaskResultStatus.READY,
            queue_name=task.queue_name,
            backend_name=task.backend,
            task_path=task.module_path,
            # Runs as soon as a worker is free (not a delayed run, which waits).
            run_after=get_date_max(),
        ).exists()
    )


class CoalescedWake:
    """One wake-up for any number of requests made while the last one ran, from a thread of
    its own: for a process that commits rows from several threads at a high rate (the SMTP
    listener), so a flood of mail costs a wake-up per batch instead of a read per message.

    Every `request()` is followed by a call to `wake` that starts after it (the event is
    cleared before each call, so a request made during a call gets a call of its own): a row
    committed before `request()` is seen by the task it wakes. The caller never waits.
    With `spacing`, calls start at least that many seconds apart: under a steady flow the
    wake-ups are capped at 1/spacing a second instead of one per call's length.
    """

    def __init__(self, wake: Callable[[], None], *, name: str, spacing: float = 0.0) -> None:
        self._wake = wake
        self._spacing = spacing
        self._asked = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._asked.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop after one last call (harmless when nothing was asked: a wake-up finds nothing)."""
        self._closing.set()
        self._asked.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        from django.db import close_old_connections, connection

        while True:
            if not self._asked.wait(timeout=1.0):
                connection.close()  # idle: no connection held open (nor a test database)
                self._asked.wait()
            self._asked.clear()
            # A connection that broke since the last call (a database restart) is replaced.
            close_old_connections()
            began = time.monotonic()
            try:
                self._wake()
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                logger.warning("Could not wake a worker; the reconciler will retry", exc_info=True)
            # Stop only once no request came during that call (it may not have seen its row).
            if self._closing.is_set() and not self._asked.is_set():
                connection.close()
                return
            # Calls start at least `spacing` apart (not when closing): requests made meanwhile
            # share the next call, which still starts after each of them.
            rest = self._spacing - (time.monotonic() - began)
            if rest > 0:
                self._closing.wait(rest)
