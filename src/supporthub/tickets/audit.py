"""The audit trail: every change to a ticket recorded with a stable code (never a label)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from supporthub.actors import Actor, actor_user
from supporthub.prepared import insert
from supporthub.tickets.models import AuditEntry, Ticket


def audit(
    *, ticket: Ticket, code: str, actor: Actor = None, at: datetime | None = None, **data: Any
) -> AuditEntry:
    """Record a change with a stable code (never a translated label)."""
    entry = audit_entry(ticket=ticket, code=code, actor=actor, at=at, **data)
    insert([entry])  # the INSERT save() writes, compiled once (every change writes one)
    return entry


def audit_entry(
    *, ticket: Ticket, code: str, actor: Actor = None, at: datetime | None = None, **data: Any
) -> AuditEntry:
    """The entry `audit` would record, unsaved: for callers that write several in one INSERT
    (`supporthub.prepared.insert`, in the order they happened)."""
    return AuditEntry(
        ticket=ticket, actor=actor_user(actor), code=code, data=data, at=at or timezone.now()
    )
