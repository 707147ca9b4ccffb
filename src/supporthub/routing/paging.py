"""After-hours urgent paging (seed 000): a ticket of a severity named by the policy's
`[[after_hours]]` rules, received while no support region is on duty, pages the on-call
engineer and notifies the CS lead, both recorded on the ticket.

Everything is written in the caller's transaction (the page row, its deliveries, the mails,
the audit entries) and delivered after commit by workers; the rows are the truth. A ticket has
at most one page (a one-to-one row), each transport gets one delivery per event action (a
unique row), PagerDuty's dedup key is the ticket's reference and each webhook delivery keeps
its id across retries: retried deliveries never become a second page anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from supporthub import http, worker
from supporthub.notify import pagerduty, webhook
from supporthub.notify.models import OutboxKind
from supporthub.notify.services import console_ticket_url, outbox_enqueue
from supporthub.policies import schema
from supporthub.routing.models import (
    DeliveryState,
    Page,
    PageAction,
    PageDelivery,
    Rotation,
    Transport,
)
from supporthub.routing.oncall import on_call_at
from supporthub.routing.regions import region_calendar
from supporthub.routing.selectors import rotations, turns_of
from supporthub.sla import clocks
from supporthub.sla.services import calendar_for
from supporthub.staff.selectors import staff_with_role
from supporthub.tickets.audit import audit
from supporthub.tickets.models import AuditEntry, Status, Ticket

logger = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=5)  # a "sending" row older than this lost its worker
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=15)
RETRY_AFTER_CAP = timedelta(hours=1)
RESOLVED_STATUSES = (Status.SOLVED, Status.CLOSED)


# -- the decision ------------------------------------------------------------------------------


def in_business_hours(
    *, policy: schema.Policy, ticket: Ticket, calendar_stamp: str | None = None
) -> bool:
    """Was support on duty at the ticket's receipt? With regions: was any region open (its
    hours, national holidays and company closures); without: the ticket's support level's
    hours for its organisation (24x7x365 is always on duty). `calendar_stamp`: see
    sla.services.closures_cached."""
    at = ticket.received_at
    if policy.regions:
        return any(
            clocks.calendar(region_calendar(region, calendar_stamp=calendar_stamp)).is_open(at)
            for region in policy.regions
        )
    level = policy.support_levels[ticket.support_level]
    key = calendar_for(
        organisation=ticket.organisation, policy=policy, support_level=level, stamp=calendar_stamp
    )
    return clocks.calendar(key).is_open(at)


def after_hours_roles(
    *, policy: schema.Policy, ticket: Ticket, calendar_stamp: str | None = None
) -> tuple[str, ...]:
    """The roles to alert for this ticket (e.g. on_call, cs_lead); empty when its severity has
    no after-hours rule or support was on duty when it was received."""
    roles: list[str] = []
    for rule in policy.after_hours:
        if ticket.severity in rule.severities:
            roles.extend(role for role in rule.notify if role not in roles)
    if not roles or in_business_hours(policy=policy, ticket=ticket, calendar_stamp=calendar_stamp):
        return ()
    return tuple(roles)


def rotation_for(region: str) -> Rotation | None:
    """The rotation of the ticket's region, else the one with no region (a catch-all)."""
    found = sorted(
        rotations().filter(region__in=[region, ""]), key=lambda r: (r.region != region, r.name)
    )
    return found[0] if found else None


@dataclass(frozen=True)
class Targets:
    """Where a rotation's pages go: its own settings, else the PAGING_* defaults."""

    routing_key: str
    webhook_url: str
    webhook_secret: str

    @property
    def transports(self) -> list[Transport]:
        out = []
        if self.routing_key:
            out.append(Transport.PAGERDUTY)
        if self.webhook_url and self.webhook_secret:
            out.append(Transport.WEBHOOK)
        return out


def targets_of(rotation: Rotation | None) -> Targets:
    if rotation is not None and rotation.webhook_url:
        url, secret = rotation.webhook_url, rotation.webhook_secret
    else:
        url, secret = settings.PAGING_WEBHOOK_URL, settings.PAGING_WEBHOOK_SECRET
    key = (rotation.pagerduty_routing_key if rotation is not None else "") or (
        settings.PAGING_PAGERDUTY_ROUTING_KEY
    )
    return Targets(routing_key=key, webhook_url=url, webhook_secret=secret)


# -- writes in the caller's transaction ----------------------------------------------------------


def _severity_name(ticket: Ticket, policy: schema.Policy) -> str:
    found = next((s.name for s in policy.severities if s.level == ticket.severity), "")
    return found or f"Severity {ticket.severity}"


def _local(at: datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()}"


def wake() -> None:
    from supporthub.routing.tasks import deliver_pages

    # A broker that is down must not fail the ticket: the reconciler delivers the rows.
    worker.wake(deliver_pages)


def _enqueue_deliveries(page: Page, action: PageAction, transports: Iterable[str]) -> None:
    rows = [PageDelivery(page=page, transport=t, action=action) for t in transports]
    if not rows:
        return
    # The same event enqueued twice (a retried hook, the sweep) keeps the first row.
    PageDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(wake, robust=True)


def page_after_hours(
    *, ticket: Ticket, policy: schema.Policy, roles: tuple[str, ...] | None = None
) -> Page | None:
    """Page and notify for an urgent ticket received after hours (None when the policy says
    not to); idempotent: a ticket already paged keeps its one page. Call inside the ticket's
    transaction, after the ticket is saved. `roles`: after_hours_roles's answer, when the
    caller has it already."""
    if roles is None:
        roles = after_hours_roles(policy=policy, ticket=ticket)
    if not roles:
        return None
    existing = Page.objects.filter(ticket=ticket).first()
    if existing is not None:
        return existing
    now = timezone.now()
    rotation = rotation_for(ticket.region) if "on_call" in roles else None
    shift = None
    if rotation is not None:
        turns, overrides = turns_of(rotation)
        shift = on_call_at(turns, overrides, now)
    engineer = shift.person if shift is not None else None
    page = Page.objects.create(
        ticket=ticket, region=ticket.region, rotation=rotation, engineer=engineer, created_at=now
    )
    region_name = next((r.name for r in policy.regions if r.key == ticket.region), ticket.region)
    context = {
        "ticket": ticket,
        "reference": ticket.reference,
        "url": console_ticket_url(ticket),
        "severity": _severity_name(ticket, policy),
        "organisation": ticket.organisation.name,
        "region": region_name,
        "rotation": rotation.name if rotation is not None else "",
        "engineer": engineer.display_name if engineer is not None else "",
    }
    subject = f"[{ticket.reference}] {context['severity']} after hours: {ticket.subject}"
    if "on_call" in roles:
        transports = targets_of(rotation).transports
        _enqueue_deliveries(page, PageAction.TRIGGER, transports)
        mailed = engineer is not None and bool(engineer.user.email)
        reachable = mailed or bool(transports)
        context["unreachable"] = engineer is not None and not reachable
        if engineer is not None and reachable:
            if mailed:
                outbox_enqueue(
                    kind=OutboxKind.PAGE,
                    dedupe_key=f"{OutboxKind.PAGE}:page:{page.pk}:trigger",
                    recipient=engineer.user.email,
                    subject=f"PAGE {subject}",
                    template="routing/page",
                    context={
                        **context,
                        "received": _local(ticket.received_at, engineer.time_zone),
                    },
                    ticket=ticket,
                )
            audit(
                ticket=ticket,
                code="oncall.paged",
                engineer=engineer.pk,
                engineer_name=engineer.display_name,
                rotation=rotation.name if rotation is not None else "",
                region=ticket.region,
                transports=[*transports, *(["email"] if mailed else [])],
            )
        elif engineer is not None:
            # On call, but with no email address and no PagerDuty or webhook configured.
            audit(
                ticket=ticket,
                code="oncall.page_unreachable",
                engineer=engineer.pk,
                engineer_name=engineer.display_name,
                rotation=rotation.name if rotation is not None else "",
                region=ticket.region,
            )
        else:
            audit(
                ticket=ticket,
                code="oncall.nobody_on_call",
                rotation=rotation.name if rotation is not None else "",
                region=ticket.region,
                transports=list(transports),
            )
    for role in (r for r in roles if r != "on_call"):
        people = [p for p in staff_with_role(role) if p.user.email]
        for person in people:
            outbox_enqueue(
                kind=OutboxKind.CS_LEAD_NOTICE,
                dedupe_key=f"{OutboxKind.CS_LEAD_NOTICE}:page:{page.pk}:staff:{person.pk}",
                recipient=person.user.email,
                subject=subject,
                template="routing/after_hours_notice",
                context={
                    **context,
                    "person": person.display_name,
                    "received": _local(ticket.received_at, person.time_zone),
                },
                ticket=ticket,
            )
        code = "oncall.cs_lead_notified" if role == "cs_lead" else "oncall.staff_notified"
        if not people:
            code = "oncall.nobody_to_notify"
        audit(
            ticket=ticket,
            code=code,
            role=role,
            staff=[p.pk for p in people],
            names=[p.display_name for p in people],
        )
    return page


def _follow_up(page: Page, action: PageAction) -> list[str]:
    """Enqueue `action` for every transport the page was triggered through."""
    triggered = list(
        page.deliveries.filter(action=PageAction.TRIGGER).values_list("transport", flat=True)
    )
    _enqueue_deliveries(page, action, triggered)
    return triggered


def page_resolve(*, ticket: Ticket) -> bool:
    """The ticket was solved or closed: resolve its page where it was triggered (one UPDATE
    when there is no open page). Call inside the ticket's transaction."""
    if not Page.objects.filter(ticket=ticket, resolved_at=None).update(resolved_at=timezone.now()):
        return False
    page = Page.objects.select_related("engineer__user").get(ticket=ticket)
    transports = _follow_up(page, PageAction.RESOLVE)
    engineer = page.engineer
    if engineer is not None and engineer.user.email:
        outbox_enqueue(
            kind=OutboxKind.PAGE,
            dedupe_key=f"{OutboxKind.PAGE}:page:{page.pk}:resolve",
            recipient=engineer.user.email,
            subject=f"RESOLVED [{ticket.reference}] {ticket.subject}",
            template="routing/page_resolved",
            context={
                "ticket": ticket,
                "reference": ticket.reference,
                "url": console_ticket_url(ticket),
                "status": Status(ticket.status).label,
                "engineer": engineer.display_name,
            },
            ticket=ticket,
        )
    audit(ticket=ticket, code="oncall.resolved", status=ticket.status, transports=transports)
    return True


def page_acknowledge(*, page: Page, why: str) -> bool:
    """Someone is on it (assigned, or first public reply): acknowledge where triggered."""
    if not Page.objects.filter(pk=page.pk, acknowledged_at=None, resolved_at=None).update(
        acknowledged_at=timezone.now()
    ):
        return False
    transports = _follow_up(page, PageAction.ACKNOWLEDGE)
    audit(ticket=page.ticket, code="oncall.acknowledged", why=why, transports=transports)
    return True


def paging_sweep() -> tuple[int, int]:
    """Catch up on changes made by any path (reply, assignment, out-of-scope closure, a
    development ticket reaching production): acknowledge pages whose ticket got a first
    response or was assigned by a person after the page, resolve pages whose ticket is solved
    or closed. Returns (acknowledged, resolved)."""
    acknowledged = resolved = 0
    for page in Page.objects.filter(
        resolved_at=None, ticket__status__in=RESOLVED_STATUSES
    ).select_related("ticket"):
        with transaction.atomic():
            resolved += page_resolve(ticket=page.ticket)
    # An assignment made by the system (a routing rule) is not someone taking the page.
    assigned_by_a_person = AuditEntry.objects.filter(
        ticket=OuterRef("ticket"),
        code="ticket.assigned",
        actor__isnull=False,
        at__gte=OuterRef("created_at"),
    )
    for page in (
        Page.objects.filter(acknowledged_at=None, resolved_at=None)
        .filter(Q(ticket__first_response_at__isnull=False) | Exists(assigned_by_a_person))
        .select_related("ticket")
    ):
        why = "first response" if page.ticket.first_response_at is not None else "assigned"
        with transaction.atomic():
            acknowledged += page_acknowledge(page=page, why=why)
    return acknowledged, resolved


# -- delivery (workers) ---------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """30 s, 1, 2, 4 ... minutes after the 1st, 2nd, 3rd ... failure; never over 15 minutes."""
    delay: timedelta = BACKOFF_FIRST * (2 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_CAP)


def _recover_stuck(*, now: datetime) -> int:
    # The interrupted attempt counts: a delivery that kills its worker every time ends failed.
    stuck = PageDelivery.objects.filter(
        state=DeliveryState.SENDING, claimed_at__lt=now - STUCK_AFTER
    )
    error = "Delivery was interrupted (the worker stopped while sending)."
    failed = stuck.filter(attempts__gte=settings.PAGING_MAX_ATTEMPTS - 1).update(
        state=DeliveryState.FAILED, attempts=F("attempts") + 1, claimed_at=None, last_error=error
    )
    retried = stuck.update(
        state=DeliveryState.PENDING,
        attempts=F("attempts") + 1,
        next_attempt_at=now,
        claimed_at=None,
        last_error=error + " Retried.",
    )
    return failed + retried


def _due(*, now: datetime) -> Any:
    # A page's events reach a receiver in order: acknowledge waits for the trigger, resolve
    # for both, while those are still pending or in flight (a late trigger would reopen it).
    unfinished = PageDelivery.objects.filter(
        page=OuterRef("page"),
        transport=OuterRef("transport"),
        state__in=[DeliveryState.PENDING, DeliveryState.SENDING],
    )
    return PageDelivery.objects.filter(
        state=DeliveryState.PENDING, next_attempt_at__lte=now
    ).filter(
        Q(action=PageAction.TRIGGER)
        | (Q(action=PageAction.ACKNOWLEDGE) & ~Exists(unfinished.filter(action=PageAction.TRIGGER)))
        | (
            Q(action=PageAction.RESOLVE)
            & ~Exists(unfinished.filter(action__in=[PageAction.TRIGGER, PageAction.ACKNOWLEDGE]))
        )
    )


def paging_due_count(*, now: datetime | None = None) -> int:
    """Deliveries a worker could send now (what the reconciler wakes a worker for)."""
    return int(_due(now=now or timezone.now()).count())


def _claim(*, now: datetime, limit: int) -> list[int]:
    with transaction.atomic():
        due = _due(now=now).order_by("next_attempt_at", "pk")
        if db_connection.features.has_select_for_update_skip_locked:
            # Two workers on PostgreSQL take disjoint rows instead of waiting on each other.
            due = due.select_for_update(skip_locked=True)
        # On SQLite the transaction holds the database's write lock from BEGIN (IMMEDIATE).
        ids = list(due.values_list("pk", flat=True)[:limit])
        if ids:
            PageDelivery.objects.filter(pk__in=ids, state=DeliveryState.PENDING).update(
                state=DeliveryState.SENDING, claimed_at=now
            )
        return ids


def paging_deliver_due(*, now: datetime | None = None, limit: int = 50) -> int:
    """Send every delivery that is due (and what a dead worker left half-sent); returns how
    many were tried."""
    now = now or timezone.now()
    _recover_stuck(now=now)
    ids = _claim(now=now, limit=limit)
    rows = PageDelivery.objects.filter(pk__in=ids).select_related(
        "page__ticket__organisation",
        "page__ticket__policy_version",
        "page__rotation",
        "page__engineer__user",
    )
    for row in rows.order_by("pk"):
        _deliver(row, now=now)
    return len(ids)


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
    severity = _severity_name(ticket, ticket.policy_version.document())
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


def _deliver(row: PageDelivery, *, now: datetime) -> None:
    # Re-stamp the claim just before sending: if another worker took the row back as stuck,
    # leave it to them (no double send).
    if not PageDelivery.objects.filter(
        pk=row.pk, state=DeliveryState.SENDING, claimed_at=row.claimed_at
    ).update(claimed_at=max(now, timezone.now())):
        return
    attempts = row.attempts + 1
    try:
        response = _send(row)
    except _Permanent as exc:
        _finish(row, attempts=attempts, error=str(exc), status=None, retry=None)
        return
    except http.HttpFailure as exc:
        _finish(row, attempts=attempts, error=str(exc), status=None, retry=backoff(attempts))
        return
    except Exception as exc:  # noqa: BLE001 - a bug in one delivery must not stop the others
        logger.exception("Page delivery %s failed", row.pk)
        error = f"{type(exc).__name__}: {exc}"
        _finish(row, attempts=attempts, error=error, status=None, retry=backoff(attempts))
        return
    if response.ok:
        PageDelivery.objects.filter(pk=row.pk, state=DeliveryState.SENDING).update(
            state=DeliveryState.SENT,
            attempts=attempts,
            last_status=response.status,
            claimed_at=None,
            sent_at=timezone.now(),
        )
        audit(
            ticket=row.page.ticket,
            code="oncall.page_delivered",
            transport=row.transport,
            action=row.action,
            attempts=attempts,
            delivery_id=str(row.delivery_id),
        )
        return
    retry: timedelta | None = None  # any other answer (400 bad event, 403, a redirect) is final
    if response.retryable:
        asked = response.retry_after(now=timezone.now()) if response.status == 429 else None
        retry = min(asked, RETRY_AFTER_CAP) if asked is not None else backoff(attempts)
    error = f"HTTP {response.status}: {response.text[:500]}"
    _finish(row, attempts=attempts, error=error, status=response.status, retry=retry)


def _finish(
    row: PageDelivery,
    *,
    attempts: int,
    error: str,
    status: int | None,
    retry: timedelta | None,
) -> None:
    give_up = retry is None or attempts >= settings.PAGING_MAX_ATTEMPTS
    logger.warning(
        "Page delivery %s (%s %s) failed, attempt %s: %s",
        row.pk,
        row.transport,
        row.action,
        attempts,
        error,
    )
    now = timezone.now()
    done = PageDelivery.objects.filter(pk=row.pk, state=DeliveryState.SENDING).update(
        state=DeliveryState.FAILED if give_up else DeliveryState.PENDING,
        attempts=attempts,
        last_status=status,
        last_error=error[:2000],
        claimed_at=None,
        next_attempt_at=now if give_up or retry is None else now + retry,
    )
    if done and give_up:
        audit(
            ticket=row.page.ticket,
            code="oncall.page_failed",
            transport=row.transport,
            action=row.action,
            attempts=attempts,
            error=error[:500],
        )


def page_delivery_retry(*, ids: list[int]) -> int:
    """Give failed deliveries a fresh set of attempts (the admin's retry action); a trigger
    whose ticket is already resolved stays failed (it would page for a solved ticket)."""
    with transaction.atomic():
        count = (
            PageDelivery.objects.filter(pk__in=ids, state=DeliveryState.FAILED)
            .exclude(action=PageAction.TRIGGER, page__resolved_at__isnull=False)
            .update(
                state=DeliveryState.PENDING,
                attempts=0,
                next_attempt_at=timezone.now(),
                last_error="",
            )
        )
        if count:
            transaction.on_commit(wake, robust=True)
    return count
