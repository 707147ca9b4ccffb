"""The outbox's delivery: a durable queue (supporthub.worker.queue) whose handler sends one
message over a mail connection opened once per batch."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone

from supporthub.notify.models import OutboxMessage, OutboxState
from supporthub.worker import queue
from supporthub.worker.queue import Backoff, Outcome, Queue

logger = logging.getLogger(__name__)

# A row left in "sending" this long by a worker that may still be alive (or on another host)
# goes back to pending; a claim whose holder process is gone is given back within seconds.
STUCK_AFTER = timedelta(minutes=15)
BACKOFF = Backoff(
    first=timedelta(minutes=1), cap=timedelta(hours=1), jitter_setting="OUTBOX_BACKOFF_JITTER"
)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes after the 1st, 2nd, 3rd ... failure, never more than an hour
    (before the jitter OUTBOX_BACKOFF_JITTER adds)."""
    return BACKOFF.base(attempts)


def _email(row: OutboxMessage, connection: Any) -> EmailMultiAlternatives:
    headers = {**row.headers, "Message-ID": row.message_id}
    email = EmailMultiAlternatives(
        subject=row.subject,
        body=row.text_body,
        from_email=settings.SUPPORT_FROM_EMAIL,
        to=[row.recipient],
        headers=headers,
        connection=connection,
    )
    email.attach_alternative(row.html_body, "text/html")
    return email


def send(row: OutboxMessage, *, connection: Any) -> Outcome:
    """Send one message over `connection`; any transport error is retried, then shown."""
    try:
        _email(row, connection).send()
    except Exception as exc:  # noqa: BLE001 - any transport error is retried, then shown
        return Outcome.retry(f"{type(exc).__name__}: {exc}")
    return Outcome.done(sent_at=timezone.now())


@contextmanager
def mail_session() -> Iterator[queue.Handler[OutboxMessage]]:
    """One mail connection for a batch: `send` over it, closed at the end of the batch."""
    connection = get_connection()
    try:
        connection.open()
    except Exception:  # noqa: BLE001 - each send below retries the connection and records why
        logger.warning("Could not open the mail connection", exc_info=True)
    try:
        yield lambda row: send(row, connection=connection)
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not lose the results
            logger.warning("Could not close the mail connection", exc_info=True)


OUTBOX = queue.register(
    Queue(
        name="outbox",
        model=OutboxMessage,
        task="supporthub.notify.tasks.deliver_outbox",
        session=mail_session,
        max_attempts="OUTBOX_MAX_ATTEMPTS",
        stuck_after=STUCK_AFTER,
        backoff=BACKOFF,
        pending=OutboxState.PENDING,
        claimed=OutboxState.SENDING,
        done=OutboxState.SENT,
        failed=OutboxState.FAILED,
        batch=100,
        rounds=20,
    )
)


def wake() -> None:
    """Ask a worker to deliver the outbox soon; never raises."""
    OUTBOX.wake()


def outbox_deliver_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Send what is due (and what a dead worker left half-sent); returns how many were tried."""
    return OUTBOX.deliver_due(now=now, limit=limit)


def outbox_retry(*, ids: Iterable[int]) -> int:
    """Give failed messages a fresh set of attempts (the admin's retry action)."""
    return OUTBOX.retry(ids=ids)
