"""Re-timing in bulk: when a calendar or a policy changes, every running clock in scope gets
its due and warning instants re-derived from its receipt time, set-based, with audit entries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from supporthub.businesstime import from_epoch_us, to_epoch_us
from supporthub.customers.models import Organisation
from supporthub.policies import schema
from supporthub.policies.models import PolicyVersion
from supporthub.sla import clocks
from supporthub.sla.calendars import calendar_for
from supporthub.sla.clocks import iso, warning_points
from supporthub.sla.selectors import running_clocks
from supporthub.tickets.models import OPEN_STATUSES, AuditEntry, Ticket

_NO_INSTANT = -1  # an epoch column's NULL inside numpy arrays


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
    result = np.full(len(starts), _NO_INSTANT, dtype=np.int64)
    for point in warning_points():
        pick = (warned < point) & (result == _NO_INSTANT)
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


# An epoch-microsecond column as ISO 8601 UTC, the same text `iso()` writes.
_ISO = """(CASE WHEN mod({column}, 1000000) = 0
    THEN to_char(('epoch'::timestamptz + {column} * interval '1 microsecond') AT TIME ZONE 'UTC',
                 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    ELSE to_char(('epoch'::timestamptz + {column} * interval '1 microsecond') AT TIME ZONE 'UTC',
                 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END)"""

_GroupKey = tuple[int, int, str, int]  # policy version, organisation, support level, severity
# ids, starts, due instants, warned points, next warning instants (-1: none)
_GroupRows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


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
        groups = _running_clock_groups(organisation_ids)
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
        _write_back(
            ids,
            old_dues,
            new_dues,
            np.concatenate(changed_next),
            np.concatenate(changed_warned),
            reason,
        )
        return RetimeResult(examined=examined, retimed=int((old_dues != new_dues).sum()))


def _running_clock_groups(
    organisation_ids: Iterable[int] | None,
) -> dict[_GroupKey, _GroupRows]:
    """Running clocks grouped by what decides their calendar and target, as epoch arrays."""
    filters = ["t.first_response_at IS NULL", "t.first_response_due_at IS NOT NULL"]
    params: list[list[str] | list[int]] = []
    if connection.vendor == "postgresql":
        filters.append("t.status = ANY(%s)")
        params.append([str(s) for s in OPEN_STATUSES])
        if organisation_ids is not None:
            filters.append("t.organisation_id = ANY(%s)")
            params.append(list(organisation_ids))
        sql = f"""
            SELECT t.policy_version_id, t.organisation_id, t.support_level, t.severity,
                   array_agg(t.id),
                   array_agg((extract(epoch FROM t.received_at) * 1000000)::bigint),
                   array_agg((extract(epoch FROM t.first_response_due_at) * 1000000)::bigint),
                   array_agg(t.sla_warned_point),
                   array_agg(coalesce(
                     (extract(epoch FROM t.sla_next_warning_at) * 1000000)::bigint, -1))
            FROM tickets_ticket t WHERE {" AND ".join(filters)}
            GROUP BY 1, 2, 3, 4
        """  # noqa: S608 - only fixed fragments are interpolated
        groups = {}
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for version_id, org_id, level, severity, *arrays in cursor.fetchall():
                ids, starts, dues, warned, nexts = (np.array(a, dtype=np.int64) for a in arrays)
                groups[(version_id, org_id, level, severity)] = (ids, starts, dues, warned, nexts)
        return groups
    queryset = running_clocks()
    if organisation_ids is not None:
        queryset = queryset.filter(organisation_id__in=list(organisation_ids))
    collected: dict[_GroupKey, list[tuple[int, int, int, int, int]]] = defaultdict(list)
    for pk, version_id, org_id, level, severity, received, due, point, nxt in queryset.values_list(
        "pk",
        "policy_version_id",
        "organisation_id",
        "support_level",
        "severity",
        "received_at",
        "first_response_due_at",
        "sla_warned_point",
        "sla_next_warning_at",
    ).iterator(chunk_size=5000):
        if due is None:
            continue  # excluded by the filter; keeps the type checker honest
        collected[(version_id, org_id, level, severity)].append(
            (
                pk,
                to_epoch_us(received, "received_at"),
                to_epoch_us(due, "due"),
                point,
                _NO_INSTANT if nxt is None else to_epoch_us(nxt, "next warning"),
            )
        )
    return {
        key: (
            np.array([r[0] for r in rows], dtype=np.int64),
            np.array([r[1] for r in rows], dtype=np.int64),
            np.array([r[2] for r in rows], dtype=np.int64),
            np.array([r[3] for r in rows], dtype=np.int64),
            np.array([r[4] for r in rows], dtype=np.int64),
        )
        for key, rows in collected.items()
    }


def _write_back(
    ids: np.ndarray,
    old: np.ndarray,
    new: np.ndarray,
    nexts: np.ndarray,
    warned: np.ndarray,
    reason: str,
) -> None:
    """Store the new due and next-warning instants; audit the clocks whose due instant moved."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE tickets_ticket AS t
                SET first_response_due_at = 'epoch'::timestamptz + v.due * interval '1 microsecond',
                    sla_next_warning_at = CASE WHEN v.next < 0 THEN NULL
                        ELSE 'epoch'::timestamptz + v.next * interval '1 microsecond' END,
                    sla_warned_point = v.warned,
                    version = t.version + CASE WHEN v.due <> v.old THEN 1 ELSE 0 END
                FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])
                     AS v(id, old, due, next, warned)
                WHERE t.id = v.id
                """,
                [ids.tolist(), old.tolist(), new.tolist(), nexts.tolist(), warned.tolist()],
            )
            cursor.execute(
                f"""
                INSERT INTO tickets_auditentry (ticket_id, actor_id, code, data, at)
                SELECT v.id, NULL, 'sla.first_response_retimed',
                       jsonb_build_object(
                         'previous_due_at', {_ISO.format(column="v.old")},
                         'due_at', {_ISO.format(column="v.due")},
                         'reason', %s::text),
                       %s
                FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS v(id, old, due)
                WHERE v.old <> v.due
                """,  # noqa: S608 - only the fixed _ISO fragment is interpolated
                [reason, now, ids.tolist(), old.tolist(), new.tolist()],
            )
        return
    for pk, previous, due, nxt, point in zip(
        ids.tolist(), old.tolist(), new.tolist(), nexts.tolist(), warned.tolist(), strict=True
    ):
        Ticket.objects.filter(pk=pk).update(
            first_response_due_at=from_epoch_us(due),
            sla_next_warning_at=None if nxt == _NO_INSTANT else from_epoch_us(nxt),
            sla_warned_point=point,
            version=F("version") + (1 if due != previous else 0),
        )
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                ticket_id=int(pk),
                code="sla.first_response_retimed",
                data={
                    "previous_due_at": iso(from_epoch_us(o)),
                    "due_at": iso(from_epoch_us(n)),
                    "reason": reason,
                },
                at=now,
            )
            for pk, o, n in zip(ids.tolist(), old.tolist(), new.tolist(), strict=True)
            if o != n
        ],
        batch_size=1000,
    )
