"""Paging's background work: a task delivers due pages (woken on commit); a periodic
reconciler catches up acknowledgements and resolutions and wakes it for anything due."""

from __future__ import annotations

import logging

from django_tasks import task

from supporthub.routing import paging
from supporthub.routing.delivery import DELIVERIES, paging_deliver_due, paging_due_count
from supporthub.worker import drain
from supporthub.worker.registry import register

logger = logging.getLogger(__name__)

BATCH = DELIVERIES.batch
ROUNDS = DELIVERIES.rounds
# Pages are urgent: a retry that comes due (or a wake-up that was lost) waits at most this.
RECONCILE_EVERY = 15.0


@task()
def deliver_pages() -> int:
    """Deliver every page delivery that is due, a batch at a time; returns how many."""
    return drain(paging_deliver_due, batch=BATCH, rounds=ROUNDS, again=paging.wake)


@task()
def reconcile_pages() -> int:
    """Acknowledge/resolve pages whose ticket moved on by any path, then wake a worker if
    deliveries are due; returns how many are due."""
    acknowledged, resolved = paging.paging_sweep()
    due = paging_due_count()
    if acknowledged or resolved or due:
        logger.info(
            "Paging: %d acknowledged, %d resolved, %d deliveries due", acknowledged, resolved, due
        )
    if due:
        paging.wake()
    return due


register("paging reconciler", every=RECONCILE_EVERY, run=lambda: reconcile_pages.call())
