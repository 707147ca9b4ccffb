"""The audit trail: every change to a ticket recorded with a stable code (never a label)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from supporthub.actors import Actor, actor_user
from supporthub.tickets.models import AuditEntry, Ticket


def audit(
    *, ticket: Ticket, code: str, actor: Actor = None, at: datetime | None = None, **data: Any
) -> AuditEntry:
    """Record a change with a stable code (never a translated label)."""
    entry = audit_entry(ticket=ticket, code=code, actor=actor, at=at, **data)
    entry.save(force_insert=True)
    return entry


def audit_many(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """Record several changes at once (entries made by `audit_entry`), in one INSERT, in the
    order given (the order they happened); their primary keys are set."""
    if not entries:
        return []
    return AuditEntry.objects.bulk_create(entries)


def audit_entry(
    *, ticket: Ticket, code: str, actor: Actor = None, at: datetime | None = None, **data: Any
) -> AuditEntry:
    """The entry `audit` would record, unsaved: for callers that record several at once
    (`audit_many`)."""
    return AuditEntry(
        ticket=ticket, actor=actor_user(actor), code=code, data=data, at=at or timezone.now()
    )
