"""Development tickets' background work: the deliveries' queue (woken on commit) and the
periodic reconciliation that re-reads open links through the trackers' APIs."""

from __future__ import annotations

import logging

from django.conf import settings
from django_tasks import task

from supporthub.development.delivery import DELIVERIES
from supporthub.development.reconcile import reconcile_links
from supporthub.worker.registry import register

logger = logging.getLogger(__name__)


@task()
def process_deliveries() -> int:
    """Process every delivery that is due, a batch at a time; returns how many."""
    return DELIVERIES.drain()


@task()
def reconcile_development() -> int:
    """Re-read each open link's issue from its tracker; returns how many moves it applied."""
    moved = reconcile_links()
    if moved:
        logger.info("Development: reconciliation applied %d missed move(s)", moved)
    return moved


register(
    "development reconciler",
    every=float(settings.DEVELOPMENT_RECONCILE_SECONDS),
    run=lambda: reconcile_development.call(),
)
