"""Breach warnings: the scan that notifies staff as a first-response clock nears and passes due.

Each running clock stores the instant of its next warning (`Ticket.sla_next_warning_at`) and
the highest point already notified (`Ticket.sla_warned_point`). The scan is one indexed query
(`selectors.warnings_due`, on the `ticket_sla_warning_due` partial index); each due row is
then claimed in its own transaction (row lock, re-checked condition), and in that same
transaction the mails go to the outbox, the audit entry is written, the next point is stored
and, at the breach of the policy's top severity, the ticket is escalated to the CS lead. A
scheduler killed at any moment therefore leaves either all of it or none of it, and a warning
fires once per clock and point, whichever machine runs the scan.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from supporthub.notify.models import OutboxKind
from supporthub.notify.services import console_ticket_url, outbox_enqueue
from supporthub.sla.calendars import calendar_for
from supporthub.sla.clocks import iso, warning_instants
from supporthub.sla.selectors import warnings_due
from supporthub.staff.models import StaffMember
from supporthub.tickets.audit import audit
from supporthub.tickets.models import Ticket
from supporthub.tickets.services import ticket_escalate

logger = logging.getLogger(__name__)

BREACH = 100
FAILED_RETRY = timedelta(minutes=5)  # a clock whose warning failed is tried again after this
SCAN_BATCH = 500  # rows claimed per query; a larger backlog is taken by the next queries


@dataclass(frozen=True)
class ScanResult:
    due: int  # rows the scan query returned
    warnings: int  # warning points notified (before the breach)
    breaches: int  # breaches notified
    escalated: int  # Severity 1 breaches escalated to the CS lead


def breach_scan(*, now: datetime | None = None, batch: int = SCAN_BATCH) -> ScanResult:
    """Notify every warning point that is due at `now` (default: the current time)."""
    now = now or timezone.now()
    due = warnings = breaches = escalated = 0
    while True:
        ids = list(warnings_due(now=now).values_list("pk", flat=True)[:batch])
        due += len(ids)
        for pk in ids:
            try:
                fired = _fire(pk, now=now)
            except Exception:
                # One clock that cannot be handled (a broken calendar, a template error) must
                # not hold up every clock behind it: it is retried later, the others go on.
                logger.exception("Breach warning for ticket %s failed; retrying later", pk)
                Ticket.objects.filter(pk=pk).update(sla_next_warning_at=now + FAILED_RETRY)
                continue
            if fired is None:
                continue
            if fired.point == BREACH:
                breaches += 1
            else:
                warnings += 1
            escalated += fired.escalated
        if len(ids) < batch:
            return ScanResult(due=due, warnings=warnings, breaches=breaches, escalated=escalated)


@dataclass(frozen=True)
class _Fired:
    point: int
    escalated: bool


def _fire(pk: int, *, now: datetime) -> _Fired | None:
    """Claim one clock and notify its latest passed point, all in one transaction."""
    with transaction.atomic():
        # The claim: a lock on the row, re-checking it is still due. A scheduler on another
        # machine holding it skips it; once it commits, the row is no longer due.
        ticket = warnings_due(now=now).filter(pk=pk).select_for_update(skip_locked=True).first()
        if ticket is None:
            return None
        policy = ticket.policy_version.document()
        level = policy.support_levels.get(ticket.support_level)
        target = level.targets.get(ticket.severity) if level is not None else None
        if level is None or target is None or ticket.first_response_due_at is None:
            Ticket.objects.filter(pk=pk).update(sla_next_warning_at=None)
            return None
        calendar = calendar_for(
            organisation=ticket.organisation, policy=policy, support_level=level
        )
        instants = warning_instants(ticket=ticket, calendar=calendar, target=target)
        passed = sorted(point for point, at in instants.items() if at <= now)
        if not passed:
            # Re-timed later than the stored instant says: store the right one, send nothing.
            Ticket.objects.filter(pk=pk).update(sla_next_warning_at=min(instants.values()))
            return None
        point = passed[-1]
        remaining = sorted(p for p in instants if p > point)
        # Several points passed (the scheduler was down, or a re-time moved them into the
        # past): only the latest is sent; a warning after the breach would say nothing new.
        Ticket.objects.filter(pk=pk).update(
            sla_warned_point=point,
            sla_next_warning_at=instants[remaining[0]] if remaining else None,
        )
        ticket.sla_warned_point = point
        recipients = warning_recipients(ticket)
        _enqueue(ticket, point=point, at=instants[point], recipients=recipients, now=now)
        audit(
            ticket=ticket,
            code="sla.breached" if point == BREACH else "sla.warning",
            actor=None,
            at=now,
            point=point,
            point_at=iso(instants[point]),
            due_at=iso(ticket.first_response_due_at),
            notified=[address for address, _ in recipients],
            skipped=passed[:-1],
        )
        escalated = False
        top = min(s.level for s in policy.severities)
        if point == BREACH and ticket.severity == top and ticket.escalated_at is None:
            escalated = _escalate(ticket, policy_name=policy.name)
        return _Fired(point=point, escalated=escalated)


def _escalate(ticket: Ticket, *, policy_name: str) -> bool:
    due = ticket.first_response_due_at
    reason = (
        f"Automatic: Severity {ticket.severity} breached its Target Initial Response "
        f"(due {iso(due)}) under {policy_name}."
    )
    try:
        with transaction.atomic():
            ticket_escalate(ticket=ticket, reason=reason, viewer=None)
    except ValidationError:
        logger.exception("Automatic escalation of %s refused", ticket.reference)
        return False
    return True


def warning_recipients(ticket: Ticket) -> list[tuple[str, str]]:
    """(address, why) pairs: the assignee, the region, the organisation's account manager.

    "The region" is the address configured for the ticket's region in SLA_REGION_ADDRESSES,
    else every active staff member whose region is the ticket's region. Inactive staff and
    people without an address are left out; each address is mailed once.
    """
    found: dict[str, str] = {}

    def add(member: StaffMember | None, why: str) -> None:
        if member is not None and member.is_active and member.user.email:
            found.setdefault(member.user.email.lower(), why)

    add(ticket.assignee, "assignee")
    if ticket.region:
        address = settings.SLA_REGION_ADDRESSES.get(ticket.region)
        if address:
            found.setdefault(address.lower(), f"region {ticket.region}")
        else:
            for member in StaffMember.objects.select_related("user").filter(
                region=ticket.region, is_active=True
            ):
                add(member, f"region {ticket.region}")
    add(ticket.organisation.account_manager, "account manager")
    return sorted(found.items())


def _dedupe_key(ticket: Ticket, *, point: int, recipient: str) -> str:
    """Names ticket, point, due instant and recipient: the same warning can never repeat."""
    who = hashlib.sha256(recipient.encode()).hexdigest()[:16]
    due = iso(ticket.first_response_due_at)
    return f"sla:{ticket.pk}:{point}:{due}:{who}"


def _when(at: datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()} ({iso(at)})"


def _enqueue(
    ticket: Ticket,
    *,
    point: int,
    at: datetime,
    recipients: list[tuple[str, str]],
    now: datetime,
) -> None:
    breached = point == BREACH
    due = ticket.first_response_due_at
    if due is None:  # the caller checked; keeps the type checker honest
        return
    zone = ticket.organisation.time_zone
    what = "breached" if breached else f"{point}% of its Target Initial Response used"
    subject = f"[{ticket.reference}] S{ticket.severity} {what}: {ticket.subject}"
    context = {
        "ticket": ticket,
        "reference": ticket.reference,
        "point": point,
        "breached": breached,
        "due": _when(due, zone),
        "point_at": _when(at, zone),
        "late": (now - due) if breached and now > due else None,
        "organisation": ticket.organisation.name,
        "url": console_ticket_url(ticket),
    }
    for recipient, why in recipients:
        outbox_enqueue(
            kind=OutboxKind.SLA_BREACHED if breached else OutboxKind.SLA_WARNING,
            dedupe_key=_dedupe_key(ticket, point=point, recipient=recipient),
            recipient=recipient,
            subject=subject,
            template="sla/warning",
            context={**context, "why": why},
            ticket=ticket,
        )
