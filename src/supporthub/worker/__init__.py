"""Background work: tasks only wake workers; the outbox (and inbox) rows are the truth."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def wake(task: Any = None) -> None:
    """Ask a worker to run `task` soon (default: deliver the outbox); never raises.

    Call it after the rows it should find are committed. With the database backend a wake-up
    already waiting for the same task (READY, not yet taken by a worker) is enough: it starts
    after this call, so it sees every row committed before it. A flood of mail then costs one
    task row and a read per message instead of a write (and its fsync) per message.
    """
    if task is None:
        from supporthub.worker.tasks import deliver_outbox

        task = deliver_outbox
    try:
        if _waiting(task):
            return
        task.enqueue()
    except Exception:
        # A broker that is down must not fail the write that called us: the rows are
        # already stored, and the reconciler (or the worker's polling) finds them later.
        logger.warning("Could not wake a worker; the reconciler will retry", exc_info=True)


def _waiting(task: Any) -> bool:
    """A wake-up for `task` that no worker has taken yet (database backend only)."""
    from django_tasks import TaskResultStatus, task_backends
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult, get_date_max

    if not isinstance(task_backends[task.backend], DatabaseBackend):
        return False
    return DBTaskResult.objects.filter(
        status=TaskResultStatus.READY,
        queue_name=task.queue_name,
        backend_name=task.backend,
        task_path=task.module_path,
        # Runs as soon as a worker is free (not a delayed run, which waits).
        run_after__in=[get_date_max()],
    ).exists()
