"""Closures: days a calendar is closed beyond its holidays, added, removed or imported from an
iCalendar file, each change re-timing the open tickets whose calendar it touches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction

from supporthub.businesstime import closures_from_ical
from supporthub.customers.models import Organisation
from supporthub.sla.models import Closure
from supporthub.sla.retiming import RetimeResult, retime_open_tickets


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
