"""Reads on the inbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from supporthub.intake.email.models import InboundMessage, InboundState


def inbox_stale(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Stored messages received over `older_than` ago that no live worker has claimed."""
    now = now or timezone.now()
    lapsed = now - timedelta(seconds=settings.INBOX_CLAIM_SECONDS)
    return (
        InboundMessage.objects.filter(state=InboundState.STORED, received_at__lt=now - older_than)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=lapsed))
        .count()
    )


def inbox_counts() -> dict[str, int]:
    """How many messages are in each state (every state named, zeros included)."""
    counts = dict.fromkeys(InboundState.values, 0)
    for row in InboundMessage.objects.values("state").annotate(n=Count("pk")).order_by():
        counts[row["state"]] = row["n"]
    return counts
