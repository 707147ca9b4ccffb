"""Inbox tasks: wake-ups only; the stored rows are the truth and every run is idempotent."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django_tasks import task

from supporthub.intake.email.checks import log_sender_check
from supporthub.intake.email.imap import imap_configured, imap_poll
from supporthub.intake.email.selectors import inbox_stale
from supporthub.intake.email.services import inbox_process_due, wake_inbox
from supporthub.worker import drain
from supporthub.worker.registry import register

logger = logging.getLogger(__name__)

# A task processes at most ROUNDS x BATCH messages, then re-queues itself, so a flood of
# mail cannot hold one worker (or starve the outbox's tasks) for long.
BATCH = 50
ROUNDS = 20
STALE_AFTER = timedelta(minutes=1)
RECONCILE_EVERY = 60.0


@task()
def process_inbox() -> int:
    """Process every stored message, a batch at a time; returns how many were taken."""
    return drain(inbox_process_due, batch=BATCH, rounds=ROUNDS, again=wake_inbox)


@task()
def reconcile_inbox() -> int:
    """Re-queue processing if stored messages have waited over a minute; returns how many."""
    count = inbox_stale(older_than=STALE_AFTER)
    if count:
        logger.info("%d inbound message(s) waited over a minute; waking a worker", count)
        wake_inbox()
    return count


def poll_imap() -> int:
    """One IMAP poll in the worker's loop; returns how many messages were newly stored."""
    return imap_poll().stored


register("inbox reconciler", every=RECONCILE_EVERY, run=lambda: reconcile_inbox.call())


def register_imap_poll() -> None:
    """The IMAP poll runs in `supporthub worker` only when IMAP_HOST is set."""
    if imap_configured():
        log_sender_check(logger)  # the worker polls IMAP: as loud as imap-poll
        register("imap poll", every=float(settings.IMAP_POLL_SECONDS), run=poll_imap)


register_imap_poll()
