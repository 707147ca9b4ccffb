"""Tickets' first-response clocks read and written in bulk, for the sla app's re-timing.

The set-based SQL on the tickets app's own tables lives here (on PostgreSQL: one grouped read
with arrays, one UPDATE from unnest, one INSERT ... SELECT of audit entries); the other
databases take the ORM's path. Instants travel as epoch microseconds in numpy arrays; -1
stands for a NULL next-warning instant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime

import numpy as np
from django.db import connection
from django.db.models import F
from django.utils import timezone

from supporthub.businesstime import from_epoch_us, to_epoch_us
from supporthub.tickets.models import OPEN_STATUSES, AuditEntry, Ticket
from supporthub.tickets.selectors import running_clocks

NO_INSTANT = -1  # an epoch column's NULL inside numpy arrays

GroupKey = tuple[int, int, str, int]  # policy version, organisation, support level, severity
# ids, starts, due instants, warned points, next warning instants (NO_INSTANT: none)
GroupRows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]

_TICKET, _AUDIT = Ticket._meta.db_table, AuditEntry._meta.db_table

# An epoch-microsecond column as ISO 8601 UTC, the same text sla.clocks.iso() writes.
_ISO = """(CASE WHEN mod({column}, 1000000) = 0
    THEN to_char(('epoch'::timestamptz + {column} * interval '1 microsecond') AT TIME ZONE 'UTC',
                 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    ELSE to_char(('epoch'::timestamptz + {column} * interval '1 microsecond') AT TIME ZONE 'UTC',
                 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END)"""


def running_clock_groups(*, organisation_ids: Iterable[int] | None) -> dict[GroupKey, GroupRows]:
    """Running clocks (of these organisations, or all) grouped by what decides their calendar
    and target, as epoch arrays."""
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
            FROM {_TICKET} t WHERE {" AND ".join(filters)}
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
    collected: dict[GroupKey, list[tuple[int, int, int, int, int]]] = defaultdict(list)
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
                NO_INSTANT if nxt is None else to_epoch_us(nxt, "next warning"),
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


def clocks_write_back(
    ids: np.ndarray,
    old: np.ndarray,
    new: np.ndarray,
    nexts: np.ndarray,
    warned: np.ndarray,
    *,
    code: str,
    reason: str,
    iso: Callable[[datetime], str | None],
) -> None:
    """Store the new due and next-warning instants and warned points; audit (`code`, with the
    previous and new due instants as `iso` writes them, and `reason`) the clocks whose due
    instant moved."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {_TICKET} AS t
                SET first_response_due_at = 'epoch'::timestamptz + v.due * interval '1 microsecond',
                    sla_next_warning_at = CASE WHEN v.next < 0 THEN NULL
                        ELSE 'epoch'::timestamptz + v.next * interval '1 microsecond' END,
                    sla_warned_point = v.warned,
                    version = t.version + CASE WHEN v.due <> v.old THEN 1 ELSE 0 END
                FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])
                     AS v(id, old, due, next, warned)
                WHERE t.id = v.id
                """,  # noqa: S608 - only the table's name is interpolated
                [ids.tolist(), old.tolist(), new.tolist(), nexts.tolist(), warned.tolist()],
            )
            cursor.execute(
                f"""
                INSERT INTO {_AUDIT} (ticket_id, actor_id, code, data, at)
                SELECT v.id, NULL, %s,
                       jsonb_build_object(
                         'previous_due_at', {_ISO.format(column="v.old")},
                         'due_at', {_ISO.format(column="v.due")},
                         'reason', %s::text),
                       %s
                FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS v(id, old, due)
                WHERE v.old <> v.due
                """,  # noqa: S608 - only the table's name and the fixed _ISO fragment
                [code, reason, now, ids.tolist(), old.tolist(), new.tolist()],
            )
        return
    for pk, previous, due, nxt, point in zip(
        ids.tolist(), old.tolist(), new.tolist(), nexts.tolist(), warned.tolist(), strict=True
    ):
        Ticket.objects.filter(pk=pk).update(
            first_response_due_at=from_epoch_us(due),
            sla_next_warning_at=None if nxt == NO_INSTANT else from_epoch_us(nxt),
            sla_warned_point=point,
            version=F("version") + (1 if due != previous else 0),
        )
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                ticket_id=int(pk),
                code=code,
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
