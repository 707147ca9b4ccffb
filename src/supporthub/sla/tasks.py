"""The breach scan as a periodic job of `supporthub worker` (every SLA_SCAN_EVERY seconds)."""

from __future__ import annotations

from django.conf import settings

from supporthub.sla.warnings import ScanResult, breach_scan
from supporthub.worker.registry import register


def run_breach_scan() -> ScanResult:
    return breach_scan()


register("sla breach scan", every=settings.SLA_SCAN_EVERY, run=run_breach_scan)
