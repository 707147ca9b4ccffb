"""Clocks on tickets: start, stop, re-derive, and re-time in bulk when a calendar changes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from supporthub.businesstime import closures_from_ical, from_epoch_us, to_epoch_us
from supporthub.customers.models import Organisation
from supporthub.customers.selectors import local_date
from supporthub.notify.models import OutboxKind
from supporthub.notify.services import outbox_enqueue, public_url
from supporthub.policies import schema
from supporthub.policies.models import PolicyVersion
from supporthub.sla import clocks
from supporthub.sla.models import Closure
from supporthub.sla.selectors import running_clocks
from supporthub.staff.models import Role
from supporthub.staff.selectors import staff_with_role
from supporthub.tickets.models import OPEN_STATUSES, AuditEntry, FirstResponseStatus, Ticket


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC ending in Z, the one form the product writes instants in."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# (organisation id or None, holiday country) -> (calendar stamp token, closed dates).
_closures: dict[tuple[int | None, str], tuple[str, frozenset[date]]] = {}
_CLOSURES_KEPT = 10_000


def closures_cached(
    *, organisation: Organisation | None, holiday_country: str, stamp: str | None
) -> frozenset[date]:
    """The closed dates of an organisation (or of a holiday country alone, with None), read
    again only when `stamp` (the CalendarStamp token read in the caller's query) changed.

    Dates read after the stamp are at least as new as it: kept under it, they are never older
    than what a reader of that stamp should see. Without a stamp, always read.
    A caller that writes closures must not pass a stamp it read before that write in the same
    transaction (its uncommitted dates would be kept under the committed token).
    """
    key = (organisation.pk if organisation is not None else None, holiday_country)
    if stamp is not None:
        kept = _closures.get(key)
        if kept is not None and kept[0] == stamp:
            return kept[1]
    scope = Q(holiday_country=holiday_country)
    if organisation is not None:
        scope |= Q(organisation=organisation)
    dates = frozenset(Closure.objects.filter(scope).values_list("date", flat=True))
    if stamp is not None:
        if len(_closures) >= _CLOSURES_KEPT:
            _closures.clear()
        _closures[key] = (stamp, dates)
    return dates


def calendar_for(
    *,
    organisation: Organisation,
    policy: schema.Policy,
    support_level: schema.SupportLevel,
    stamp: str | None = None,
) -> clocks.CalendarKey:
    if organisation.holiday_country:
        country, subdivision = organisation.holiday_country, organisation.holiday_subdivision
    else:
        country, subdivision = policy.holiday_country, policy.holiday_subdivision or ""
    return clocks.CalendarKey(
        hours=support_level.hours,
        zone=support_level.hours.zone or organisation.time_zone,
        holiday_country=country,
        holiday_subdivision=subdivision or None,
        closures=closures_cached(organisation=organisation, holiday_country=country, stamp=stamp),
    )


def first_response_start(
    *,
    ticket: Ticket,
    policy: schema.Policy,
    organisation: Organisation,
    calendar_stamp: str | None = None,
) -> None:
    """Set the due instant from the receipt time under the ticket's policy and severity
    (`calendar_stamp`: see closures_cached)."""
    level = policy.support_levels[ticket.support_level]
    target = level.targets.get(ticket.severity)
    if target is None:
        ticket.first_response_due_at = None
        ticket.first_response_status = FirstResponseStatus.NO_TARGET
        return
    calendar = calendar_for(
        organisation=organisation, policy=policy, support_level=level, stamp=calendar_stamp
    )
    ticket.first_response_due_at = clocks.due_at(calendar, target, ticket.received_at)
    ticket.first_response_status = FirstResponseStatus.PENDING
    ticket.sla_next_warning_at = next_warning_at(ticket=ticket, calendar=calendar, target=target)


def warning_points() -> tuple[int, ...]:
    """The configured breach-warning points, percentages of the target; 100 is the breach."""
    return tuple(settings.SLA_WARNING_POINTS)


def warning_instants(
    *, ticket: Ticket, calendar: clocks.CalendarKey, target: schema.Target
) -> dict[int, datetime]:
    """Each warning point not yet notified on this clock, and the instant it falls due."""
    due = ticket.first_response_due_at
    instants: dict[int, datetime] = {}
    for point in warning_points():
        if point <= ticket.sla_warned_point:
            continue
        if point == 100 and due is not None:
            instants[point] = due  # the stored due instant is the truth for the breach
        else:
            instants[point] = clocks.point_at(calendar, target, ticket.received_at, point)
    return instants


def next_warning_at(
    *, ticket: Ticket, calendar: clocks.CalendarKey, target: schema.Target
) -> datetime | None:
    """The instant of the next warning to fire on this clock; None when all have fired."""
    instants = warning_instants(ticket=ticket, calendar=calendar, target=target)
    return instants[min(instants)] if instants else None


def warnings_skip_past(
    *, ticket: Ticket, policy: schema.Policy, organisation: Organisation, now: datetime
) -> None:
    """Treat warning points that fell due before `now` as history (an imported ticket): they
    are not sent; the next point still to come, if any, is scheduled. Sets the fields only."""
    level = policy.support_levels[ticket.support_level]
    target = level.targets.get(ticket.severity)
    if target is None or ticket.first_response_at is not None:
        return
    calendar = calendar_for(organisation=organisation, policy=policy, support_level=level)
    instants = warning_instants(ticket=ticket, calendar=calendar, target=target)
    passed = [point for point, at in instants.items() if at <= now]
    if passed:
        ticket.sla_warned_point = max(passed)
    ticket.sla_next_warning_at = min(
        (at for point, at in instants.items() if point > ticket.sla_warned_point), default=None
    )


def warnings_follow_due(
    *,
    ticket: Ticket,
    previous_due: datetime | None,
    policy: schema.Policy,
    organisation: Organisation,
    now: datetime | None = None,
) -> None:
    """After the due instant was re-derived (sets the fields only).

    Moved later (a lower severity, a closure added): the warnings already sent no longer
    hold, so the clock's points start again; those already past under the new due instant
    are not sent (nothing new to say), the others fire when reached. Moved earlier: points
    already sent stay sent, and one that is now past fires at the next scan.
    """
    due = ticket.first_response_due_at
    if previous_due is None or due is None or due <= previous_due:
        return
    ticket.sla_warned_point = 0
    warnings_skip_past(
        ticket=ticket, policy=policy, organisation=organisation, now=now or timezone.now()
    )


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


def first_response_record(*, ticket: Ticket, at: datetime) -> None:
    """The first public staff reply: met if at or before the due instant."""
    ticket.first_response_at = at
    if ticket.first_response_due_at is None:
        ticket.first_response_status = FirstResponseStatus.NO_TARGET
    elif at <= ticket.first_response_due_at:
        ticket.first_response_status = FirstResponseStatus.MET
    else:
        ticket.first_response_status = FirstResponseStatus.BREACHED


def first_response_state(ticket: Ticket, *, now: datetime | None = None) -> str:
    """pending, met, breached or no_target as of now (a running clock past due is breached)."""
    if ticket.first_response_at is not None or ticket.first_response_due_at is None:
        return ticket.first_response_status
    now = now or timezone.now()
    return FirstResponseStatus.BREACHED if now > ticket.first_response_due_at else "pending"


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


def closure_save(*, closure: Closure) -> RetimeResult:
    """Add or change a closure and re-time the open tickets whose calendar it touches."""
    with transaction.atomic():
        closure.full_clean()
        closure.save()
        return _retime_closure_scope(
            organisation_id=closure.organisation_id,
            holiday_country=closure.holiday_country,
            reason=f"closure {closure.date}: {closure.name}",
        )


def closure_delete(*, closure: Closure) -> RetimeResult:
    with transaction.atomic():
        reason = f"closure removed {closure.date}: {closure.name}"
        organisation_id, holiday_country = closure.organisation_id, closure.holiday_country
        closure.delete()
        return _retime_closure_scope(
            organisation_id=organisation_id, holiday_country=holiday_country, reason=reason
        )


def _retime_closure_scope(
    *, organisation_id: int | None, holiday_country: str, reason: str
) -> RetimeResult:
    """Re-time what a closure touches: one organisation, or every calendar of a country."""
    if organisation_id is not None:
        return retime_open_tickets(organisation_ids=[organisation_id], reason=reason)
    return retime_open_tickets(holiday_country=holiday_country, reason=reason)


CALENDAR_FIELDS = ("time_zone", "holiday_country", "holiday_subdivision")


def organisation_save(*, organisation: Organisation) -> RetimeResult:
    """Save an organisation; if its calendar changed (zone, holidays), re-time its open tickets."""
    with transaction.atomic():
        organisation.full_clean()
        before = (
            Organisation.objects.filter(pk=organisation.pk).values(*CALENDAR_FIELDS).first()
            if organisation.pk
            else None
        )
        organisation.save()
        if before is None:
            return RetimeResult(examined=0, retimed=0)
        changed = [f for f in CALENDAR_FIELDS if before[f] != getattr(organisation, f)]
        if not changed:
            return RetimeResult(examined=0, retimed=0)
        described = ", ".join(
            f"{field} {before[field] or '(none)'} -> {getattr(organisation, field) or '(none)'}"
            for field in changed
        )
        return retime_open_tickets(
            organisation_ids=[organisation.pk], reason=f"organisation calendar: {described}"
        )


def policy_version_adopt(*, version: PolicyVersion) -> RetimeResult:
    """A new version of a policy: open tickets received on or after its effective date
    (the organisation's local date) move to it and are re-timed; older ones keep theirs."""
    policy = version.document()
    now = timezone.now()
    moved = 0
    examined = 0
    with transaction.atomic():
        candidates = (
            Ticket.objects.select_for_update()
            .select_related("organisation")
            .filter(
                policy_version__policy=version.policy,
                policy_version__effective_date__lt=version.effective_date,
                status__in=[str(s) for s in OPEN_STATUSES],
                received_at__date__gte=version.effective_date - timedelta(days=1),
            )
        )
        for ticket in candidates:
            examined += 1
            if local_date(ticket.organisation, ticket.received_at) < version.effective_date:
                continue
            if ticket.support_level not in policy.support_levels:
                continue  # the level is gone from the new version: keep the one it had
            previous_version, previous_due = ticket.policy_version_id, ticket.first_response_due_at
            ticket.policy_version = version
            if ticket.first_response_at is None:
                first_response_start(ticket=ticket, policy=policy, organisation=ticket.organisation)
                warnings_follow_due(
                    ticket=ticket,
                    previous_due=previous_due,
                    policy=policy,
                    organisation=ticket.organisation,
                )
            ticket.version += 1
            ticket.save(
                update_fields=[
                    "policy_version",
                    "first_response_due_at",
                    "first_response_status",
                    "sla_next_warning_at",
                    "sla_warned_point",
                    "version",
                    "updated_at",
                ]
            )
            AuditEntry.objects.create(
                ticket=ticket,
                code="sla.policy_version_adopted",
                data={
                    "previous_policy_version": previous_version,
                    "policy_version": version.pk,
                    "previous_due_at": iso(previous_due),
                    "due_at": iso(ticket.first_response_due_at),
                },
                at=now,
            )
            moved += 1
    return RetimeResult(examined=examined, retimed=moved)


@dataclass(frozen=True)
class ClosureImport:
    added: int
    already_there: int
    retime: RetimeResult


def closures_import_ical(
    *,
    data: bytes,
    start: date,
    end: date,
    holiday_country: str = "",
    organisation: Organisation | None = None,
) -> ClosureImport:
    """Add the dates an iCalendar file closes (between start and end) as closures, then
    re-time the open tickets they touch, once. All or nothing: a bad file adds nothing."""
    closed = closures_from_ical(data, start=start, end=end)
    with transaction.atomic():
        existing = set(
            Closure.objects.filter(
                holiday_country=holiday_country, organisation=organisation, date__in=closed
            ).values_list("date", flat=True)
        )
        added = 0
        for day, name in sorted(closed.items()):
            if day in existing:
                continue
            closure = Closure(
                date=day,
                name=name[:200],
                holiday_country=holiday_country,
                organisation=organisation,
            )
            closure.full_clean()
            closure.save()
            added += 1
        reason = f"iCalendar import: {added} closure(s) {start} to {end}"
        result = (
            _retime_closure_scope(
                organisation_id=organisation.pk if organisation is not None else None,
                holiday_country=holiday_country,
                reason=reason,
            )
            if added
            else RetimeResult(examined=0, retimed=0)
        )
    return ClosureImport(added=added, already_there=len(existing), retime=result)


def escalation_notify(*, ticket: Ticket, by: str) -> int:
    """Mail the active CS lead(s) that a ticket was escalated (by a person, or "" for the
    system), in the caller's transaction; one mail per lead per escalation. Returns how many."""
    leads = staff_with_role(Role.CS_LEAD).exclude(user__email="")
    context = {
        "ticket": ticket,
        "reference": ticket.reference,
        "reason": ticket.escalation_reason,
        "by": by,
        "url": public_url("console:hot_items"),
    }
    sent = 0
    for lead in leads:
        outbox_enqueue(
            kind=OutboxKind.ESCALATED,
            dedupe_key=f"escalated:{ticket.pk}:{iso(ticket.escalated_at)}:{lead.pk}",
            recipient=lead.user.email,
            subject=f"[{ticket.reference}] Escalated to the CS lead: {ticket.subject}",
            template="sla/escalated",
            context=context,
            ticket=ticket,
        )
        sent += 1
    return sent
