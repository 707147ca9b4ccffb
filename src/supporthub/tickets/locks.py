"""What every change to a ticket starts with: staff only where it says so, the ticket's row
locked at the version the caller read, and the caller's instance kept in step after."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied

from supporthub.access import Viewer
from supporthub.staff.models import StaffMember
from supporthub.tickets.models import Ticket


class VersionConflict(Exception):
    """The ticket changed since the caller read it (a stale If-Match or form)."""

    def __init__(self, current: int) -> None:
        super().__init__(
            f"The ticket has changed since you read it (it is now at version {current}); "
            "read it again and retry."
        )
        self.current = current


def require_staff(viewer: Viewer, what: str) -> StaffMember | None:
    """The viewer's staff record; PermissionDenied ("Only staff can <what>.") for others."""
    if not viewer.is_staff:
        raise PermissionDenied(f"Only staff can {what}.")
    return viewer.staff


def ticket_locked(ticket: Ticket, expected_version: int | None) -> Ticket:
    """The ticket's row, locked for the rest of the transaction, with its organisation,
    policy version and assignee; VersionConflict when it is not at `expected_version`."""
    locked = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("organisation", "policy_version", "assignee")
        .get(pk=ticket.pk)
    )
    if expected_version is not None and expected_version != locked.version:
        raise VersionConflict(locked.version)
    return locked


def keep_in_step(source: Ticket, *, onto: Ticket, fields: Iterable[str]) -> None:
    """Keep the caller's instance in step with the row just written."""
    for name in fields:
        if name != "updated_at":
            setattr(onto, name, getattr(source, name))
