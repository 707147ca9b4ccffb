"""Reads on the inbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from supporthub.intake.email.models import InboundMessage, InboundState


def claimable(now: datetime) -> Q:
    """Stored, and claimed by no live worker (never, or longer than INBOX_CLAIM_SECONDS ago)."""
    lapsed = now - timedelta(seconds=settings.INBOX_CLAIM_SECONDS)
    return Q(state=InboundState.STORED) & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=lapsed))


def inbox_stale(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Stored messages received over `older_than` ago that no live worker has claimed."""
    now = now or timezone.now()
    return InboundMessage.objects.filter(claimable(now), received_at__lt=now - older_than).count()


def inbox_counts() -> dict[str, int]:
    """How many messages are in each state (every state named, zeros included)."""
    counts = dict.fromkeys(InboundState.values, 0)
    for row in InboundMessage.objects.values("state").annotate(n=Count("pk")).order_by():
        counts[row["state"]] = row["n"]
    return counts
