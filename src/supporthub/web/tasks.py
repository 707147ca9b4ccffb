"""The login throttle's periodic job: the failure log trimmed to LOGIN_FAILURE_LOG_DAYS."""

from __future__ import annotations

from supporthub.web.throttle import failure_log_prune
from supporthub.worker.registry import register

PRUNE_EVERY = 3600.0  # seconds

register("login failure log pruning", every=PRUNE_EVERY, run=failure_log_prune)
