"""Delivering pages: each event of a page (trigger, acknowledge, resolve) to each transport
(PagerDuty's Events API v2, a signed webhook) is a row of a durable queue
(supporthub.worker.queue), retried with backoff, or as long as a 429's Retry-After asks.

PagerDuty's dedup key is the ticket's reference and each webhook delivery keeps its id across
retries: a retried delivery never becomes a second page anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from supporthub import http
from supporthub.notify import pagerduty, webhook
from supporthub.notify.services import console_ticket_url
from supporthub.routing.models import DeliveryState, Page, PageAction, PageDelivery, Transport
from supporthub.routing.paging import PAGE_DELIVERIES, severity_name, targets_of
from supporthub.tickets.audit import audit
from supporthub.worker import queue
from supporthub.worker.queue import Backoff, Outcome, Queue

logger = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=5)  # a "sending" row older than this lost its worker
BACKOFF = Backoff(
    first=timedelta(seconds=30),
    cap=timedelta(minutes=15),
    jitter_setting="PAGING_BACKOFF_JITTER",
)
RETRY_AFTER_CAP = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """30 s, 1, 2, 4 ... minutes after the 1st, 2nd, 3rd ... failure; never over 15 minutes
    (before the jitter PAGING_BACKOFF_JITTER adds)."""
    return BACKOFF.base(attempts)


def _due(now: datetime) -> Q:
    # A page's events reach a receiver in order: acknowledge waits for the trigger, resolve
    # for both, while those are still pending or in flight (a late trigger would reopen it).
    unfinished = PageDelivery.objects.filter(
        page=OuterRef("page"),
        transport=OuterRef("transport"),
        state__in=[DeliveryState.PENDING, DeliveryState.SENDING],
    )
    return Q(state=DeliveryState.PENDING, next_attempt_at__lte=now) & (
        Q(action=PageAction.TRIGGER)
        | (Q(action=PageAction.ACKNOWLEDGE) & ~Exists(unfinished.filter(action=PageAction.TRIGGER)))
        | (
            Q(action=PageAction.RESOLVE)
            & ~Exists(unfinished.filter(action__in=[PageAction.TRIGGER, PageAction.ACKNOWLEDGE]))
        )
    )


def _source() -> str:
    return urlsplit(settings.PUBLIC_BASE_URL).hostname or "supporthub"


def _details(page: Page, severity: str) -> dict[str, Any]:
    ticket, engineer = page.ticket, page.engineer
    return {
        "ticket": {
            "id": ticket.pk,
            "reference": ticket.reference,
            "subject": ticket.subject,
            "severity": ticket.severity,
            "severity_name": severity,
            "organisation": ticket.organisation.name,
            "received_at": ticket.received_at.isoformat(),
            "url": console_ticket_url(ticket),
        },
        "region": page.region,
        "rotation": page.rotation.name if page.rotation is not None else "",
        "on_call": (
            {"name": engineer.display_name, "email": engineer.user.email}
            if engineer is not None
            else None
        ),
    }


class _Permanent(Exception):
    """Trying again cannot help (the transport's configuration is gone)."""


def _send(row: PageDelivery) -> http.Response:
    page, ticket = row.page, row.page.ticket
    targets = targets_of(page.rotation)
    timeout = float(settings.PAGING_HTTP_TIMEOUT)
    severity = severity_name(ticket, ticket.policy_version.document())
    details = _details(page, severity)
    if row.transport == Transport.PAGERDUTY:
        if not targets.routing_key:
            raise _Permanent("No PagerDuty routing key is configured (rotation or setting).")
        on_call = page.engineer.display_name if page.engineer is not None else "nobody on call"
        body = pagerduty.event_body(
            routing_key=targets.routing_key,
            action=cast(pagerduty.EventAction, row.action),
            dedup_key=page.dedup_key,
            summary=f"[{ticket.reference}] {severity} after hours: {ticket.subject} "
            f"({ticket.organisation.name})",
            source=_source(),
            timestamp=ticket.received_at,
            link=console_ticket_url(ticket),
            link_text=f"{ticket.reference} in Support Hub",
            group=page.region,
            class_="after-hours urgent ticket",
            custom_details={
                **details["ticket"],
                "on_call": on_call,
                "rotation": details["rotation"],
            },
        )
        return pagerduty.send(body, url=settings.PAGING_PAGERDUTY_EVENTS_URL, timeout=timeout)
    if not targets.webhook_url or not targets.webhook_secret:
        raise _Permanent("No webhook URL and secret are configured (rotation or setting).")
    event = f"oncall.{row.action}"
    payload = {
        "event": event,
        "delivery_id": str(row.delivery_id),
        "dedup_key": page.dedup_key,
        **details,
    }
    return webhook.send(
        targets.webhook_url,
        payload=payload,
        secret=targets.webhook_secret,
        delivery_id=str(row.delivery_id),
        event=event,
        now=timezone.now(),
        timeout=timeout,
    )


def deliver(row: PageDelivery) -> Outcome:
    """Send one event; a 429 waits as long as asked, another answer that is not retryable
    (400 bad event, 403, a redirect) or a transport that is gone fails at once."""
    try:
        response = _send(row)
    except _Permanent as exc:
        return Outcome.give_up(str(exc), last_status=None)
    except http.HttpFailure as exc:
        return Outcome.retry(str(exc), last_status=None)
    except Exception as exc:  # noqa: BLE001 - a bug in one delivery must not stop the others
        logger.exception("Page delivery %s failed", row.pk)
        return Outcome.retry(f"{type(exc).__name__}: {exc}", last_status=None)
    if response.ok:
        return Outcome.done(last_status=response.status, sent_at=timezone.now())
    error = f"HTTP {response.status}: {response.text[:500]}"
    if not response.retryable:
        return Outcome.give_up(error, last_status=response.status)
    asked = response.retry_after(now=timezone.now()) if response.status == 429 else None
    after = min(asked, RETRY_AFTER_CAP) if asked is not None else None
    return Outcome.retry(error, after=after, last_status=response.status)


def _delivered(row: PageDelivery, attempts: int) -> None:
    audit(
        ticket=row.page.ticket,
        code="oncall.page_delivered",
        transport=row.transport,
        action=row.action,
        attempts=attempts,
        delivery_id=str(row.delivery_id),
    )


def _given_up(row: PageDelivery, attempts: int, error: str) -> None:
    audit(
        ticket=row.page.ticket,
        code="oncall.page_failed",
        transport=row.transport,
        action=row.action,
        attempts=attempts,
        error=error[:500],
    )


DELIVERIES = queue.register(
    Queue(
        name=PAGE_DELIVERIES,
        model=PageDelivery,
        task="supporthub.routing.tasks.deliver_pages",
        handler=deliver,
        max_attempts="PAGING_MAX_ATTEMPTS",
        stuck_after=STUCK_AFTER,
        backoff=BACKOFF,
        due=_due,
        select_related=(
            "page__ticket__organisation",
            "page__ticket__policy_version",
            "page__rotation",
            "page__engineer__user",
        ),
        pending=DeliveryState.PENDING,
        claimed=DeliveryState.SENDING,
        done=DeliveryState.SENT,
        failed=DeliveryState.FAILED,
        batch=50,
        rounds=20,
        # A trigger whose ticket is already resolved stays failed (it would page for a
        # solved ticket).
        retry_exclude=Q(action=PageAction.TRIGGER, page__resolved_at__isnull=False),
        retry_fields={"last_error": ""},
        on_done=_delivered,
        on_given_up=_given_up,
    )
)


def paging_due_count(*, now: datetime | None = None) -> int:
    """Deliveries a worker could send now (what the reconciler wakes a worker for)."""
    return PageDelivery.objects.filter(_due(now or timezone.now())).count()


def paging_deliver_due(*, now: datetime | None = None, limit: int = 50) -> int:
    """Send every delivery that is due (and what a dead worker left half-sent); returns how
    many were tried."""
    return DELIVERIES.deliver_due(now=now, limit=limit)


def page_delivery_retry(*, ids: Iterable[int]) -> int:
    """Give failed deliveries a fresh set of attempts (the admin's retry action); a trigger
    whose ticket is already resolved stays failed (it would page for a solved ticket)."""
    return DELIVERIES.retry(ids=ids)
