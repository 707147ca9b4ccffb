"""Re-timing in bulk: when a calendar or a policy changes, every running clock in scope gets
its due and warning instants re-derived from its receipt time, set-based, with audit entries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from supporthub.businesstime import to_epoch_us
from supporthub.customers.models import Organisation
from supporthub.policies import schema
from supporthub.policies.models import PolicyVersion
from supporthub.sla import clocks
from supporthub.sla.calendars import calendar_for
from supporthub.sla.clocks import iso, warning_points
from supporthub.tickets.bulk import NO_INSTANT, clocks_write_back, running_clock_groups


def _passed_points(
    calendar: clocks.CalendarKey,
    target: schema.Target,
    starts: np.ndarray,
    dues: np.ndarray,
    now_us: int,
) -> np.ndarray:
    """`warnings_follow_due` in bulk: the highest point at or before now (0: none)."""
    result = np.zeros(len(starts), dtype=np.int64)
    for point in warning_points():
        instants = dues if point == 100 else clocks.point_epochs(calendar, target, starts, point)
        result = np.where(instants <= now_us, np.maximum(result, point), result)
    return result


def _next_warning_epochs(
    calendar: clocks.CalendarKey,
    target: schema.Target,
    starts: np.ndarray,
    warned: np.ndarray,
    dues: np.ndarray,
) -> np.ndarray:
    """`next_warning_at` for many clocks at once, as epoch microseconds (-1: none left)."""
    result = np.full(len(starts), NO_INSTANT, dtype=np.int64)
    for point in warning_points():
        pick = (warned < point) & (result == NO_INSTANT)
        if not pick.any():
            continue
        if point == 100:
            result[pick] = dues[pick]
        else:
            result[pick] = clocks.point_epochs(calendar, target, starts[pick], point)
    return result


@dataclass(frozen=True)
class RetimeResult:
    examined: int
    retimed: int


def retime_open_tickets(
    *,
    organisation_ids: Iterable[int] | None = None,
    holiday_country: str | None = None,
    reason: str,
) -> RetimeResult:
    """Re-derive the due instant of every running clock in scope, in bulk, with audit entries.

    Scope: the given organisations, or every organisation whose calendar uses the holiday
    country; no scope means every open ticket. Only tickets whose due instant moves are
    written.
    """
    with transaction.atomic():
        groups = running_clock_groups(organisation_ids=organisation_ids)
        organisations = Organisation.objects.in_bulk({key[1] for key in groups})
        versions = PolicyVersion.objects.in_bulk({key[0] for key in groups})
        examined = 0
        changed_ids: list[np.ndarray] = []
        changed_old: list[np.ndarray] = []
        changed_new: list[np.ndarray] = []
        changed_next: list[np.ndarray] = []
        changed_warned: list[np.ndarray] = []
        now_us = to_epoch_us(timezone.now(), "now")
        calendars: dict[tuple[int, int, str], clocks.CalendarKey] = {}
        for (version_id, organisation_id, level_key, severity), rows in groups.items():
            policy = versions[version_id].document()
            organisation = organisations[organisation_id]
            level = policy.support_levels[level_key]
            cache_key = (version_id, organisation_id, level_key)
            if cache_key not in calendars:
                calendars[cache_key] = calendar_for(
                    organisation=organisation, policy=policy, support_level=level
                )
            calendar = calendars[cache_key]
            if holiday_country is not None and calendar.holiday_country != holiday_country:
                continue
            target = level.targets.get(severity)
            if target is None:
                continue
            ids, starts, old, old_warned, old_next = rows
            examined += len(ids)
            new = clocks.due_epochs(calendar, target, starts)
            # A due instant that moved later starts its warnings again from now
            # (warnings_follow_due, in bulk).
            warned = old_warned
            later = new > old
            if later.any():
                warned = old_warned.copy()
                warned[later] = _passed_points(calendar, target, starts[later], new[later], now_us)
            # Warning instants move with the due instant (and are filled in for clocks
            # started before breach warnings existed).
            new_next = _next_warning_epochs(calendar, target, starts, warned, new)
            moved = (new != old) | (new_next != old_next) | (warned != old_warned)
            if moved.any():
                changed_ids.append(ids[moved])
                changed_old.append(old[moved])
                changed_new.append(new[moved])
                changed_next.append(new_next[moved])
                changed_warned.append(warned[moved])
        if not changed_ids:
            return RetimeResult(examined=examined, retimed=0)
        ids = np.concatenate(changed_ids)
        old_dues, new_dues = np.concatenate(changed_old), np.concatenate(changed_new)
        clocks_write_back(
            ids,
            old_dues,
            new_dues,
            np.concatenate(changed_next),
            np.concatenate(changed_warned),
            code="sla.first_response_retimed",
            reason=reason,
            iso=iso,
        )
        return RetimeResult(examined=examined, retimed=int((old_dues != new_dues).sum()))
