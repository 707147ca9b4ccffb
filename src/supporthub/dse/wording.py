"""The package's audit codes and routing reasons in words (audit entries store codes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

AUDIT_LABELS = {
    "dse.assigned": "Assigned to the Designated Support Engineer",
    "dse.overflow": "Routed past the Designated Support Engineer",
    "dse.covered": "Covered by normal routing for the Designated Support Engineer",
    "dse.substituted": "Designated Support Engineer substituted",
    "dse.time_logged": "Time logged against the engagement",
}

REASONS = {
    "available": "inside the DSE's Available Hours, under the Monthly Limit",
    "outside_available_hours": "outside the DSE's Available Hours",
    "monthly_limit_reached": "the month's Monthly Limit is reached",
}


def audit_detail(
    code: str, d: dict[str, Any], *, when: Callable[[Any], str], who: Callable[[Any], str]
) -> str:
    """A dse.* audit entry's data in words; `when` shows an ISO instant, `who` a staff id."""
    reason = REASONS.get(d.get("reason", ""), d.get("reason", ""))
    back = (
        f"; the DSE is next available {when(d['next_available_at'])}"
        if d.get("next_available_at")
        else ""
    )
    region = f"; region {d['region']}" if d.get("region") else ""
    if code == "dse.assigned":
        return f"To {who(d.get('engineer'))}: {reason}"
    if code == "dse.overflow":
        return f"Not to {who(d.get('engineer'))}: {reason}; normal routing{region}{back}"
    if code == "dse.covered":
        return f"{who(d.get('engineer'))} keeps the case; {reason}: normal routing{region}{back}"
    if code == "dse.substituted":
        return f"{who(d.get('previous'))} → {who(d.get('assignee'))}: {d.get('reason', '')}"
    if code == "dse.time_logged":
        flags = []
        if not d.get("counts_toward_limit", True):
            flags.append("not the DSE: recorded, not counted")
        if d.get("over_limit"):
            flags.append("over the Monthly Limit")
        tail = f" ({'; '.join(flags)})" if flags else ""
        return f"{d.get('minutes')} minutes on {d.get('date')} by {who(d.get('engineer'))}{tail}"
    return ""
