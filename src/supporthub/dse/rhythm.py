"""The engagement's rhythm: who may see and keep it, check-ins recorded by the DSE, and the
reminder to the DSE when an agreed next date is due (once).

A check-in's ``next_date`` is due on that date in the DSE's time zone. The reminder goes to
the engagement's current engineer, exactly once: the row is claimed with a conditional
UPDATE in the transaction that writes the outbox row. A later check-in of the same kind
(monthly, or milestone) answers the earlier one's next date, and then no reminder is due.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.customers.selectors import local_date
from supporthub.dse.models import CheckIn, CheckInKind, Engagement
from supporthub.notify.models import OutboxKind
from supporthub.notify.services import outbox_enqueue, public_url
from supporthub.staff.models import Role

logger = logging.getLogger(__name__)

MILESTONES = ("go-live", "upgrade")  # the seed's examples, offered as suggestions


# -- who --------------------------------------------------------------------------------------


def may_see(viewer: Viewer, engagement: Engagement) -> bool:
    """Staff who work every ticket, the engagement's DSE and the organisation's account
    manager; on the customer side, the people of the organisation."""
    if viewer.is_customer:
        return viewer.organisation is not None and viewer.organisation.pk == (
            engagement.organisation_id
        )
    if viewer.user is not None and viewer.user.is_superuser:
        return True
    if viewer.staff is None:
        return False
    return (
        viewer.sees_all_tickets
        or viewer.staff.pk == engagement.engineer_id
        or viewer.staff.pk == engagement.organisation.account_manager_id
    )


def may_keep(viewer: Viewer, engagement: Engagement) -> bool:
    """Who records check-ins and edits the environment profile: the engagement's DSE, the CS
    lead (covering for them) and a superuser."""
    if viewer.user is not None and viewer.user.is_superuser:
        return True
    return viewer.staff is not None and (
        viewer.staff.pk == engagement.engineer_id or viewer.has_role(Role.CS_LEAD)
    )


def require_keeper(viewer: Viewer, engagement: Engagement, what: str) -> None:
    if not may_keep(viewer, engagement):
        raise PermissionDenied(
            f"Only the Designated Support Engineer of {engagement.organisation.name} (or the "
            f"CS lead) can {what}."
        )


# -- check-ins --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInInput:
    """What the DSE types: the check-in as held."""

    kind: str
    milestone: str
    date: dt.date
    attendees: str
    notes: str
    next_date: dt.date | None


def check_in_record(
    *, engagement: Engagement, data: CheckInInput, viewer: Viewer, now: datetime | None = None
) -> CheckIn:
    """Record a check-in held with the customer; it answers the earlier check-ins of its kind
    still waiting for their next date."""
    require_keeper(viewer, engagement, "record check-ins")
    now = now or timezone.now()
    errors: dict[str, str] = {}
    if data.kind not in CheckInKind.values:
        errors["kind"] = f"Choose monthly or milestone, not {data.kind!r}."
    milestone = " ".join(data.milestone.split())
    if data.kind == CheckInKind.MILESTONE and not milestone:
        errors["milestone"] = "Name the milestone (e.g. go-live, upgrade)."
    if data.kind == CheckInKind.MONTHLY and milestone:
        errors["milestone"] = "A monthly check-in names no milestone; choose milestone instead."
    today = local_date(engagement.organisation, now)
    if data.date > today:
        errors["date"] = (
            f"Record a check-in once it has been held: {data.date.isoformat()} is after today "
            f"({today.isoformat()} in {engagement.organisation.time_zone})."
        )
    elif not engagement.start <= data.date <= engagement.end:
        errors["date"] = (
            f"The engagement runs from {engagement.start.isoformat()} to "
            f"{engagement.end.isoformat()}; {data.date.isoformat()} is outside it."
        )
    if not data.attendees.strip():
        errors["attendees"] = "Name who attended."
    if data.next_date is not None and data.next_date <= data.date:
        errors["next_date"] = (
            f"The next check-in must come after this one ({data.date.isoformat()})."
        )
    if errors:
        raise ValidationError(errors)
    check_in = CheckIn(
        engagement=engagement,
        kind=data.kind,
        milestone=milestone,
        date=data.date,
        attendees=data.attendees.strip(),
        notes=data.notes.strip(),
        next_date=data.next_date,
        recorded_by=viewer.user,
        recorded_at=now,
    )
    check_in.full_clean()
    with transaction.atomic():
        check_in.save(force_insert=True)
        CheckIn.objects.filter(
            engagement=engagement,
            kind=check_in.kind,
            date__lte=check_in.date,
            next_date__isnull=False,
            reminder_sent_at__isnull=True,
            answered_by__isnull=True,
        ).exclude(pk=check_in.pk).update(answered_by=check_in)
    return check_in


def check_ins_of(*, engagement: Engagement) -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(engagement=engagement).select_related("recorded_by__staff_member")


def next_check_in(*, engagement: Engagement) -> CheckIn | None:
    """The check-in whose agreed next date is the soonest still open (not yet answered)."""
    return (
        CheckIn.objects.filter(
            engagement=engagement, next_date__isnull=False, answered_by__isnull=True
        )
        .order_by("next_date", "pk")
        .first()
    )


# -- reminders --------------------------------------------------------------------------------


def reminders_due(*, now: datetime) -> QuerySet[CheckIn]:
    """Check-ins whose next date may have come somewhere (the latest zone's date is at most a
    day ahead of UTC's), on the partial index; the DSE's own date is checked per row."""
    horizon = now.date() + timedelta(days=1)
    return (
        CheckIn.objects.filter(
            next_date__isnull=False,
            next_date__lte=horizon,
            reminder_sent_at__isnull=True,
            answered_by__isnull=True,
            engagement__end__gte=F("next_date"),
        )
        .select_related("engagement__engineer__user", "engagement__organisation")
        .order_by("next_date", "pk")
    )


def check_in_reminders_send(*, now: datetime | None = None) -> int:
    """Remind each DSE whose agreed next check-in date has come (in their zone); returns how
    many reminders were written. Safe on several workers at once."""
    now = now or timezone.now()
    sent = 0
    for check_in in reminders_due(now=now):
        engineer = check_in.engagement.engineer
        assert check_in.next_date is not None  # noqa: S101 - the query's filter
        if now.astimezone(ZoneInfo(engineer.time_zone)).date() < check_in.next_date:
            continue
        if not engineer.user.email:
            logger.warning("Check-in %s: the DSE %s has no email address", check_in.pk, engineer)
            continue
        with transaction.atomic():
            claimed = CheckIn.objects.filter(
                pk=check_in.pk, reminder_sent_at__isnull=True, answered_by__isnull=True
            ).update(reminder_sent_at=now)
            if not claimed:
                continue  # another worker sent it, or a check-in answered it meanwhile
            _enqueue_reminder(check_in, recipient=engineer.user.email)
        sent += 1
    return sent


def _enqueue_reminder(check_in: CheckIn, *, recipient: str) -> None:
    engagement = check_in.engagement
    what = check_in.milestone or "monthly"
    outbox_enqueue(
        kind=OutboxKind.DSE_CHECKIN_REMINDER,
        dedupe_key=f"{OutboxKind.DSE_CHECKIN_REMINDER}:{check_in.pk}",
        recipient=recipient,
        subject=f"Check-in due: {engagement.organisation.name} ({what}), "
        f"{check_in.next_date:%d %B %Y}",
        template="dse/mail/checkin_reminder",
        context={
            "check_in": check_in,
            "engagement": engagement,
            "organisation": engagement.organisation.name,
            "engineer": engagement.engineer.display_name,
            "url": public_url("dse_rhythm:console_check_ins", engagement.pk),
        },
    )
