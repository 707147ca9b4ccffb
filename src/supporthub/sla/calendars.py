"""Which business calendar a clock runs on: an organisation's zone and holiday place under its
policy, with the closed dates read from the database and kept while the CalendarStamp holds."""

from __future__ import annotations

from datetime import date

from django.db.models import Q

from supporthub.customers.models import Organisation
from supporthub.policies import schema
from supporthub.sla import clocks
from supporthub.sla.models import Closure

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
    """The calendar of an organisation's clocks at a support level: the level's hours, in the
    level's zone or else the organisation's, with its holidays (or the policy's) and closures."""
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
