"""Reads on the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from supporthub.notify.models import OutboxMessage, OutboxState


def outbox_stale(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Rows due for longer than `older_than` and still not sent (nor given up on)."""
    cutoff = (now or timezone.now()) - older_than
    return OutboxMessage.objects.filter(
        Q(state=OutboxState.PENDING, next_attempt_at__lt=cutoff)
        | Q(state=OutboxState.SENDING, claimed_at__lt=cutoff)
    ).count()


def outbox_for_ticket(*, ticket_id: int) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(ticket_id=ticket_id).order_by("pk"))
