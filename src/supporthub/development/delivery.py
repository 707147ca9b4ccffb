"""Processing inbound deliveries: each stored delivery is a row of a durable queue
(supporthub.worker.queue), processed once; a body that cannot be read is given up on with
the reason, and a bug or a lost database connection is retried with backoff."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.utils import timezone

from supporthub.development import payloads, progress
from supporthub.development.models import InboundDelivery, Tracker, TrackerConnection
from supporthub.worker.queue import Backoff, Outcome, Queue, register


def parse(connection: TrackerConnection, event: str, data: dict[str, Any]) -> payloads.Parsed:
    """The facts in one delivery of `connection`'s tracker."""
    if connection.kind == Tracker.GITHUB:
        return payloads.parse_github(
            event,
            data,
            production_environment=connection.production_environment,
            release_is_production=connection.release_is_production,
        )
    if connection.kind == Tracker.JIRA:
        return payloads.parse_jira(data, site=connection.web_url)
    return payloads.parse_generic(data)


def process_delivery(row: InboundDelivery) -> Outcome:
    """One delivery: read it, apply what it says to the linked tickets, record the outcome."""
    now = timezone.now()
    try:
        parsed = parse(row.connection, row.event, json.loads(row.body))
    except payloads.PayloadError as exc:
        return Outcome.give_up(f"unreadable: {exc}", outcome=f"unreadable: {exc}")
    if parsed.ignored:
        return Outcome.done(outcome=f"ignored: {parsed.ignored}", processed_at=now)
    said = progress.facts_apply(
        connection=row.connection, parsed=parsed, source=f"delivery:{row.pk}"
    )
    return Outcome.done(outcome=said, processed_at=timezone.now())


DELIVERIES = register(
    Queue(
        name="development deliveries",
        model=InboundDelivery,
        handler=process_delivery,
        task="supporthub.development.tasks.process_deliveries",
        max_attempts="DEVELOPMENT_MAX_ATTEMPTS",
        stuck_after=timedelta(minutes=5),
        backoff=Backoff(first=timedelta(seconds=30), cap=timedelta(minutes=15)),
        select_related=("connection",),
        # Deliveries of one issue are applied in the order they arrived.
        order=("received_at", "pk"),
    )
)
