"""Reads on rotations: their rules as `Turns`, who is on call, the shifts of a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from supporthub.routing.models import Rotation, RotationMember, RotationOverride
from supporthub.routing.oncall import Override, Shift, Turns, on_call_at, schedule
from supporthub.staff.models import StaffMember


def rotations() -> QuerySet[Rotation]:
    """Rotations with their members (in order) and overrides, in three queries."""
    return Rotation.objects.prefetch_related(
        Prefetch(
            "members",
            queryset=RotationMember.objects.select_related("staff").order_by("position"),
        ),
        Prefetch(
            "overrides",
            queryset=RotationOverride.objects.select_related("staff").order_by("created_at", "pk"),
        ),
    )


def turns_of(rotation: Rotation) -> tuple[Turns[StaffMember], list[Override[StaffMember]]]:
    """A rotation (fetched through `rotations()`) as the pure schedule's inputs."""
    turns = Turns(
        members=[m.staff for m in rotation.members.all()],
        zone=rotation.time_zone,
        starts_on=rotation.starts_on,
        handoff_time=rotation.handoff_time,
    )
    overrides = [
        Override(o.staff, o.starts_at, o.ends_at, o.reason) for o in rotation.overrides.all()
    ]
    return turns, overrides


@dataclass(frozen=True)
class RotationNow:
    rotation: Rotation
    now: Shift[StaffMember] | None
    upcoming: list[Shift[StaffMember]]


def rotation_now(rotation: Rotation, *, at: datetime | None = None, weeks: int = 4) -> RotationNow:
    at = at or timezone.now()
    turns, overrides = turns_of(rotation)
    current = on_call_at(turns, overrides, at)
    start = current.ends_at if current is not None else at
    # Whole shifts only: stop where the shift running `weeks` ahead begins.
    horizon = at + timedelta(weeks=weeks)
    last = on_call_at(turns, overrides, horizon)
    end = last.starts_at if last is not None else horizon
    return RotationNow(
        rotation=rotation, now=current, upcoming=schedule(turns, overrides, start, end)
    )
