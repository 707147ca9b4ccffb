"""Time against the Monthly Limit: logging work on a case, the over-limit flag, and the 80% and
100% warnings, each sent once per engagement and month however many entries race for it."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from supporthub.actors import Actor, actor_user
from supporthub.customers.selectors import local_date
from supporthub.dse.models import WARNING_THRESHOLDS, Engagement, TimeEntry, UsageWarning
from supporthub.dse.selectors import MonthUsage, minutes_used, month_start, month_usage
from supporthub.notify.models import OutboxKind
from supporthub.notify.services import outbox_enqueue, public_url
from supporthub.staff.models import StaffMember
from supporthub.tickets.audit import audit
from supporthub.tickets.models import Ticket

MAX_MINUTES = 24 * 60


def engagement_of_case(*, ticket: Ticket, on: date) -> Engagement | None:
    """The engagement active on `on` that covers the case's subscription."""
    return (
        Engagement.objects.filter(
            organisation=ticket.organisation_id,
            subscriptions=ticket.subscription_id,
            start__lte=on,
            end__gte=on,
        )
        .select_related("organisation", "engineer")
        .order_by("-start")
        .first()
    )


def time_entry_log(
    *,
    ticket: Ticket,
    engineer: StaffMember,
    minutes: int,
    on: date | None = None,
    note: str = "",
    actor: Actor = None,
) -> TimeEntry:
    """Log `minutes` of work on a case on the date `on` (the organisation's today when None).

    The DSE's entries count against the Monthly Limit; anyone else's are recorded only. An
    entry that takes the month past the limit is recorded and flagged, never refused. The
    engagement's row is locked while the month is summed, so two entries logged at once see
    each other, and the warning rows' unique constraint holds even if that lock were lost.
    """
    organisation = ticket.organisation
    today = local_date(organisation, timezone.now())
    on = on or today
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise ValidationError({"minutes": "Log a whole number of minutes, at least 1."})
    if minutes > MAX_MINUTES:
        raise ValidationError({"minutes": f"At most {MAX_MINUTES} minutes (a day) per entry."})
    if on > today:
        raise ValidationError({"date": f"{on} is in the future ({organisation}'s today: {today})."})
    engagement = engagement_of_case(ticket=ticket, on=on)
    if engagement is None:
        raise ValidationError(
            {
                "date": f"{ticket.reference} is not a case of a Designated Support Engineer "
                f"engagement on {on}."
            }
        )
    with transaction.atomic():
        locked = (
            Engagement.objects.select_for_update(of=("self",))
            .select_related("organisation", "engineer")
            .get(pk=engagement.pk)
        )
        counts = engineer.pk == locked.engineer_id
        month = month_start(on)
        before = minutes_used(engagement_id=locked.pk, month=month)
        after = before + minutes if counts else before
        limit = int(locked.monthly_limit_hours * 60)
        entry = TimeEntry(
            engagement=locked,
            ticket=ticket,
            engineer=engineer,
            minutes=minutes,
            date=on,
            note=note.strip(),
            counts_toward_limit=counts,
            over_limit=counts and after > limit,
            created_by=actor_user(actor),
            created_at=timezone.now(),
        )
        entry.full_clean(exclude=["engagement", "ticket", "engineer"])
        entry.save(force_insert=True)
        audit(
            ticket=ticket,
            code="dse.time_logged",
            actor=actor,
            at=entry.created_at,
            engagement=locked.pk,
            entry=entry.pk,
            engineer=engineer.pk,
            minutes=minutes,
            date=on.isoformat(),
            counts_toward_limit=counts,
            over_limit=entry.over_limit,
        )
        if counts:
            _warn(locked, entry, month=month, used=after, limit=limit)
        return entry


def _warn(engagement: Engagement, entry: TimeEntry, *, month: date, used: int, limit: int) -> None:
    """Each threshold the month has now reached and not yet warned about: one warning row
    (unique per engagement, month and threshold) and its mail, in this transaction."""
    reached = [t for t in WARNING_THRESHOLDS if used * 100 >= t * limit]
    if not reached:
        return
    done = set(
        UsageWarning.objects.filter(
            engagement=engagement, month=month, threshold__in=reached
        ).values_list("threshold", flat=True)
    )
    usage: MonthUsage | None = None
    for threshold in reached:
        if threshold in done:
            continue
        try:
            with transaction.atomic():
                warning = UsageWarning.objects.create(
                    engagement=engagement,
                    month=month,
                    threshold=threshold,
                    minutes_used=used,
                    time_entry=entry,
                    at=entry.created_at,
                )
        except IntegrityError:
            continue  # another transaction warned first: once is the rule
        usage = usage or month_usage(engagement=engagement, month=month)
        _mail(engagement, entry, warning, usage)


def _mail(
    engagement: Engagement, entry: TimeEntry, warning: UsageWarning, usage: MonthUsage
) -> None:
    recipients: list[tuple[str, str]] = []
    if engagement.engineer.user.email:
        recipients.append((engagement.engineer.user.email, "Designated Support Engineer"))
    manager = engagement.organisation.account_manager
    if manager is not None and manager.user.email:
        recipients.append((manager.user.email, "CS account manager"))
    what = "the whole Monthly Limit" if warning.threshold == 100 else f"{warning.threshold}%"
    for recipient, why in dict(recipients).items():
        outbox_enqueue(
            kind=OutboxKind.DSE_USAGE_WARNING,
            dedupe_key=f"dse.usage_warning:{warning.pk}:{recipient}",
            recipient=recipient,
            subject=f"{engagement.organisation}: {what} of the DSE hours used in "
            f"{warning.month:%B %Y}",
            template="dse/usage_warning",
            context={
                "organisation": engagement.organisation,
                "engagement": engagement,
                "entry": entry,
                "threshold": warning.threshold,
                "usage": usage,
                "why": why,
                "url": public_url("console:dse-engagement", engagement.pk),
            },
        )
