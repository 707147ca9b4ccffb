"""The worker's own periodic job: claims that a stopped process held are given back."""

from __future__ import annotations

from supporthub.worker.queue import recover_abandoned
from supporthub.worker.registry import register

# A claim whose holder process is gone is given back within this many seconds.
ABANDONED_EVERY = 5.0

register("abandoned claims", every=ABANDONED_EVERY, run=lambda: recover_abandoned())
