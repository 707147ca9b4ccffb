"""The outbox's tasks: a wake-up drains the due mail; a periodic reconciler re-queues it."""

from __future__ import annotations

import logging
from datetime import timedelta

from django_tasks import task

from supporthub.notify.delivery import OUTBOX, outbox_deliver_due, wake
from supporthub.notify.selectors import outbox_stale
from supporthub.worker import drain
from supporthub.worker.registry import register

logger = logging.getLogger(__name__)

# A task handles at most ROUNDS x BATCH messages, then re-queues itself, so one busy
# outbox cannot hold a worker (or one long transaction) forever.
BATCH = OUTBOX.batch
ROUNDS = OUTBOX.rounds
STALE_AFTER = timedelta(minutes=1)
RECONCILE_EVERY = 60.0


@task()
def deliver_outbox() -> int:
    """Deliver every outbox message that is due, a batch at a time; returns how many."""
    return drain(outbox_deliver_due, batch=BATCH, rounds=ROUNDS, again=wake)


@task()
def reconcile() -> int:
    """Re-queue delivery if outbox rows have waited over a minute; returns how many have."""
    count = outbox_stale(older_than=STALE_AFTER)
    if count:
        logger.info("%d outbox message(s) waited over a minute; waking a worker", count)
        wake()
    return count


register("outbox reconciler", every=RECONCILE_EVERY, run=lambda: reconcile.call())
