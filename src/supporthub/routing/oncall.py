"""Who is on call: weekly turns handed off at a local wall time, cut by one-off overrides.

`schedule` is pure (no ORM): the rotation's rules in, the shifts of a period out. Hand-offs
are wall-clock times in the rotation's zone, so a week with a daylight-saving switch is
167 or 169 hours long; a hand-off time that falls in a skipped hour happens at the instant
the clocks jump (zoneinfo's reading of the missing wall time, fold 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from supporthub.businesstime import NaiveDatetimeError

P = TypeVar("P")  # whoever is on call: a staff member, or anything in a test


@dataclass(frozen=True)
class Turns(Generic[P]):
    """A rotation's rules: the members in order and the weekly hand-off."""

    members: Sequence[P]
    zone: str
    starts_on: date  # the first hand-off's local date
    handoff_time: time


@dataclass(frozen=True)
class Override(Generic[P]):
    person: P
    starts_at: datetime
    ends_at: datetime
    reason: str = ""


@dataclass(frozen=True)
class Shift(Generic[P]):
    person: P
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    override: bool = False
    reason: str = ""


def handoff(turns: Turns[P], week: int) -> datetime:
    """The instant (UTC) of hand-off number `week` (0 is the first)."""
    local = datetime.combine(
        turns.starts_on + timedelta(weeks=week), turns.handoff_time, tzinfo=ZoneInfo(turns.zone)
    )
    # Normalise through UTC: a wall time in a skipped hour becomes a real instant.
    return local.astimezone(UTC)


def week_at(turns: Turns[P], at: datetime) -> int:
    """The number of the turn running at `at`; negative before the first hand-off."""
    _aware(at)
    local_day = at.astimezone(ZoneInfo(turns.zone)).date()
    week = (local_day - turns.starts_on).days // 7
    while handoff(turns, week) > at:
        week -= 1
    while handoff(turns, week + 1) <= at:
        week += 1
    return week


def schedule(
    turns: Turns[P], overrides: Sequence[Override[P]], start: datetime, end: datetime
) -> list[Shift[P]]:
    """Every shift between `start` and `end`: the weekly turns, with overrides cut in (a
    later override in the list wins where two overlap). Adjacent shifts of the same person
    and kind are merged."""
    _aware(start)
    _aware(end)
    if not turns.members or end <= start:
        return []
    first = handoff(turns, 0)
    start = max(start, first)
    if end <= start:
        return []
    points = {start, end}
    week = week_at(turns, start)
    while (moment := handoff(turns, week + 1)) < end:
        points.add(moment)
        week += 1
    for override in overrides:
        for moment in (override.starts_at, override.ends_at):
            if start < moment < end:
                points.add(moment)
    edges = sorted(points)
    shifts: list[Shift[P]] = []
    for left, right in zip(edges, edges[1:], strict=False):
        shift = _who(turns, overrides, left, right)
        if shifts and _same(shifts[-1], shift) and shifts[-1].ends_at == left:
            shifts[-1] = Shift(
                shift.person, shifts[-1].starts_at, right, shift.override, shift.reason
            )
        else:
            shifts.append(shift)
    return shifts


def on_call_at(turns: Turns[P], overrides: Sequence[Override[P]], at: datetime) -> Shift[P] | None:
    """The shift running at `at`, with its real start and end (a hand-off, or an override's
    edges); None before the first hand-off or with no members."""
    _aware(at)
    if not turns.members or at < handoff(turns, 0):
        return None
    week = week_at(turns, at)
    covering = [o for o in overrides if o.starts_at <= at < o.ends_at]
    window_start = min([handoff(turns, week), *(o.starts_at for o in covering)])
    window_end = max([handoff(turns, week + 1), *(o.ends_at for o in covering)])
    for shift in schedule(turns, overrides, window_start, window_end):
        if shift.starts_at <= at < shift.ends_at:
            return shift
    return None


def _who(
    turns: Turns[P], overrides: Sequence[Override[P]], left: datetime, right: datetime
) -> Shift[P]:
    for override in reversed(overrides):
        if override.starts_at <= left and right <= override.ends_at:
            return Shift(override.person, left, right, override=True, reason=override.reason)
    person = turns.members[week_at(turns, left) % len(turns.members)]
    return Shift(person, left, right)


def _same(a: Shift[P], b: Shift[P]) -> bool:
    return a.person == b.person and a.override == b.override and a.reason == b.reason


def _aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(f"{value!r} has no time zone")
