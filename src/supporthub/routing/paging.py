"""After-hours urgent paging (seed 000): a ticket of a severity named by the policy's
`[[after_hours]]` rules, received while no support region is on duty, pages the on-call
engineer and notifies the CS lead, both recorded on the ticket.

Everything is written in the caller's transaction (the page row, its deliveries, the mails,
the audit entries) and delivered after commit by workers (routing.delivery); the rows are the
truth. A ticket has at most one page (a one-to-one row), each transport gets one delivery per
event action (a unique row), PagerDuty's dedup key is the ticket's reference and each webhook
delivery keeps its id across retries: retried deliveries never become a second page anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from supporthub.notify.models import OutboxKind
from supporthub.notify.services import console_ticket_url, outbox_enqueue
from supporthub.policies import schema
from supporthub.routing.models import Page, PageAction, PageDelivery, Rotation, Transport
from supporthub.routing.oncall import on_call_at
from supporthub.routing.regions import region_calendar
from supporthub.routing.selectors import rotations, turns_of
from supporthub.sla import clocks
from supporthub.sla.calendars import calendar_for
from supporthub.staff.selectors import staff_with_role
from supporthub.tickets.audit import audit
from supporthub.tickets.models import AuditEntry, Status, Ticket
from supporthub.worker import queue

logger = logging.getLogger(__name__)

# The queue that delivers the pages' events (routing.delivery, drained by routing.tasks).
PAGE_DELIVERIES = "page deliveries"
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


def severity_name(ticket: Ticket, policy: schema.Policy) -> str:
    found = next((s.name for s in policy.severities if s.level == ticket.severity), "")
    return found or f"Severity {ticket.severity}"


def _local(at: datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()}"


def wake() -> None:
    """Ask a worker to deliver pages soon; never raises: a broker that is down must not fail
    the ticket (the reconciler delivers the rows)."""
    queue.wake_queue(PAGE_DELIVERIES)


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
        "severity": severity_name(ticket, policy),
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
