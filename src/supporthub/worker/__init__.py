"""Background work: tasks only wake workers; the outbox (and inbox) rows are the truth."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def wake() -> None:
    """Ask a worker to deliver the outbox now; never raises into the caller."""
    from supporthub.worker.tasks import deliver_outbox

    try:
        deliver_outbox.enqueue()
    except Exception:
        # A broker that is down must not fail the write that called us: the outbox row is
        # already stored, and the reconciler (or the worker's polling) delivers it later.
        logger.warning("Could not wake a worker; the reconciler will retry", exc_info=True)
