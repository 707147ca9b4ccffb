"""Writes of the Designated Support Engineer package: engagements (and their renewal, by
agreement only), substitution of the engineer, and absences with the Administrative Day cap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from supporthub.actors import Actor, actor_user
from supporthub.customers.models import Organisation, Subscription, SupportContact
from supporthub.dse import calendars
from supporthub.dse.availability import available_calendar
from supporthub.dse.models import Absence, AbsenceKind, Engagement, Substitution
from supporthub.dse.selectors import dse_policy
from supporthub.notify.models import OutboxKind
from supporthub.notify.services import outbox_enqueue, public_url
from supporthub.policies import schema
from supporthub.staff.models import StaffMember
from supporthub.tickets.audit import audit_entry, audit_many
from supporthub.tickets.models import OPEN_STATUSES, Ticket


def engagement_check(
    *,
    organisation: Organisation,
    engineer: StaffMember,
    subscriptions: Sequence[Subscription],
    sku: str,
    start: date,
    end: date,
    monthly_limit_hours: Decimal | None,
    renewal_of: Engagement | None = None,
    exclude: Engagement | None = None,
) -> tuple[schema.DseAddon, Decimal]:
    """Every refusal of an engagement, with its reason; the terms and the Monthly Limit."""
    if not subscriptions:
        raise ValidationError({"subscriptions": "Name the subscriptions the engagement covers."})
    if end < start:
        raise ValidationError({"end": "The engagement must end on or after its start."})
    terms = None
    for subscription in subscriptions:
        if subscription.organisation_id != organisation.pk:
            raise ValidationError(
                {"subscriptions": f"{subscription} is not a subscription of {organisation}."}
            )
        policy, terms = dse_policy(subscription, start)
        level = policy.subscription_levels.get(subscription.level)
        name = level.name if level is not None else subscription.level
        if subscription.level not in terms.subscription_levels:
            allowed = " and ".join(
                policy.subscription_levels[key].name for key in terms.subscription_levels
            )
            raise ValidationError(
                {
                    "subscriptions": f"The {name} subscription "
                    f"({subscription.term_start} to {subscription.term_end}) cannot have a "
                    f"Designated Support Engineer: the package applies only to {allowed}."
                }
            )
        if subscription.billing_term not in terms.billing_terms:
            allowed = " or ".join(term.replace("_", "-") for term in terms.billing_terms)
            raise ValidationError(
                {
                    "subscriptions": f"The {name} subscription is "
                    f"billed {subscription.get_billing_term_display().lower()}: the package "
                    f"applies only to {allowed} subscriptions."
                }
            )
    if terms is None:  # unreachable: subscriptions is not empty
        raise ValidationError({"subscriptions": "Name the subscriptions the engagement covers."})
    after = end + relativedelta(days=1)
    if after < start + relativedelta(months=terms.min_term_months):
        raise ValidationError(
            {
                "end": f"A term from {start} to {end} is under the minimum of "
                f"{terms.min_term_months} months (it would end on "
                f"{start + relativedelta(months=terms.min_term_months, days=-1)} at the earliest)."
            }
        )
    if after > start + relativedelta(months=terms.max_term_months):
        raise ValidationError(
            {
                "end": f"A term from {start} to {end} is over the maximum of "
                f"{terms.max_term_months} months (it may end on "
                f"{start + relativedelta(months=terms.max_term_months, days=-1)} at the latest)."
            }
        )
    if sku not in terms.skus:
        raise ValidationError(
            {"sku": f"{sku!r} is not a SKU of the package (known: {', '.join(terms.skus)})."}
        )
    limit = Decimal(terms.monthly_hours) if monthly_limit_hours is None else monthly_limit_hours
    if limit <= 0:
        raise ValidationError({"monthly_limit_hours": "The Monthly Limit must be more than 0."})
    if not engineer.is_active:
        raise ValidationError({"engineer": f"{engineer} is not an active staff member."})
    if renewal_of is not None:
        if renewal_of.organisation_id != organisation.pk:
            raise ValidationError({"renewal_of": "A renewal is for the same organisation."})
        if start <= renewal_of.end:
            raise ValidationError(
                {
                    "start": f"The renewal must start after {renewal_of.end}, when the one it "
                    "renews ends."
                }
            )
        renewals = Engagement.objects.filter(renewal_of=renewal_of)
        if exclude is not None:
            renewals = renewals.exclude(pk=exclude.pk)
        if renewals.exists():
            raise ValidationError({"renewal_of": "That engagement has been renewed already."})
    others = Engagement.objects.filter(
        subscriptions__in=[s.pk for s in subscriptions], start__lte=end, end__gte=start
    ).select_related("engineer")
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    overlapping = others.first()
    if overlapping is not None:
        raise ValidationError(
            {
                "subscriptions": f"An engagement already covers these subscriptions from "
                f"{overlapping.start} to {overlapping.end} ({overlapping.engineer})."
            }
        )
    return terms, limit


def engagement_create(
    *,
    organisation: Organisation,
    engineer: StaffMember,
    subscriptions: Sequence[Subscription],
    sku: str,
    start: date,
    end: date,
    monthly_limit_hours: Decimal | None = None,
    renewal_of: Engagement | None = None,
    agreement: str = "",
    actor: Actor = None,
) -> Engagement:
    """A new engagement (or, with `renewal_of`, the explicit renewal of one, by mutual
    agreement: nothing renews by itself), refused with the reason when the package's terms
    do not allow it."""
    if renewal_of is not None and not agreement.strip():
        raise ValidationError(
            {"agreement": "A renewal is by mutual agreement only: name the agreement."}
        )
    with transaction.atomic():
        _, limit = engagement_check(
            organisation=organisation,
            engineer=engineer,
            subscriptions=subscriptions,
            sku=sku,
            start=start,
            end=end,
            monthly_limit_hours=monthly_limit_hours,
            renewal_of=renewal_of,
        )
        engagement = Engagement(
            organisation=organisation,
            engineer=engineer,
            sku=sku,
            start=start,
            end=end,
            monthly_limit_hours=limit,
            renewal_of=renewal_of,
            agreement=agreement.strip(),
            created_by=actor_user(actor),
            created_at=timezone.now(),
        )
        engagement.full_clean(exclude=["organisation", "engineer", "renewal_of"])
        engagement.save(force_insert=True)
        engagement_cover(engagement=engagement, subscriptions=subscriptions)
        return engagement


def engagement_cover(*, engagement: Engagement, subscriptions: Sequence[Subscription]) -> None:
    """Set the subscriptions an engagement covers and keep `Subscription.dse_covered`."""
    before = set(engagement.subscriptions.values_list("pk", flat=True))
    engagement.subscriptions.set(subscriptions)
    subscriptions_recount(before | {s.pk for s in subscriptions})


def subscriptions_recount(ids: set[int]) -> None:
    """`dse_covered` of these subscriptions, from the engagements that list them."""
    covered = set(
        Engagement.subscriptions.through.objects.filter(subscription_id__in=ids).values_list(
            "subscription_id", flat=True
        )
    )
    Subscription.objects.filter(pk__in=covered).update(dse_covered=True)
    Subscription.objects.filter(pk__in=ids - covered).update(dse_covered=False)


def engagement_substitute(
    *,
    engagement: Engagement,
    engineer: StaffMember,
    reason: str,
    actor: Actor = None,
    at: datetime | None = None,
) -> Substitution:
    """Another engineer takes over the engagement and its open cases; the history keeps who,
    when and why, and the organisation's Support Contacts are told."""
    at = at or timezone.now()
    if not reason.strip():
        raise ValidationError({"reason": "Say why the engineer is substituted."})
    if not engineer.is_active:
        raise ValidationError({"engineer": f"{engineer} is not an active staff member."})
    with transaction.atomic():
        locked = (
            Engagement.objects.select_for_update(of=("self",))
            .select_related("organisation", "engineer")
            .get(pk=engagement.pk)
        )
        previous = locked.engineer
        if previous.pk == engineer.pk:
            raise ValidationError({"engineer": f"{engineer} is already the engagement's DSE."})
        cases = list(
            Ticket.objects.select_for_update().filter(
                organisation=locked.organisation_id,
                assignee=previous,
                status__in=OPEN_STATUSES,
                subscription__in=locked.subscriptions.all(),
            )
        )
        for case in cases:
            case.assignee = engineer
            case.version += 1
            case.updated_at = at
        Ticket.objects.bulk_update(cases, ["assignee", "version", "updated_at"])
        audit_many(
            [
                audit_entry(
                    ticket=case,
                    code="dse.substituted",
                    actor=actor,
                    at=at,
                    engagement=locked.pk,
                    previous=previous.pk,
                    assignee=engineer.pk,
                    reason=reason.strip(),
                )
                for case in cases
            ]
        )
        locked.engineer = engineer
        locked.save(update_fields=["engineer"])
        substitution = Substitution.objects.create(
            engagement=locked,
            from_engineer=previous,
            to_engineer=engineer,
            reason=reason.strip(),
            cases_moved=len(cases),
            actor=actor_user(actor),
            at=at,
        )
        _tell_contacts(locked, substitution)
        engagement.engineer = engineer
        return substitution


def _tell_contacts(engagement: Engagement, substitution: Substitution) -> None:
    contacts = SupportContact.objects.filter(organisation=engagement.organisation, is_active=True)
    for contact in contacts:
        outbox_enqueue(
            kind=OutboxKind.DSE_SUBSTITUTED,
            dedupe_key=f"dse.substituted:{substitution.pk}:{contact.pk}",
            recipient=contact.email,
            subject=f"Your Designated Support Engineer is now {substitution.to_engineer}",
            template="dse/substituted",
            context={
                "contact": contact,
                "engagement": engagement,
                "substitution": substitution,
                "url": public_url("portal:dse"),
            },
        )


def absence_add(
    *,
    kind: AbsenceKind,
    start: date,
    end: date,
    engineer: StaffMember | None = None,
    holiday_country: str = "",
    holiday_subdivision: str = "",
    note: str = "",
    actor: Actor = None,
) -> Absence:
    """Record days off. An Administrative Day past an engagement's cap for its twelve-month
    period is refused, naming the count."""
    absence = Absence(
        kind=kind,
        engineer=engineer,
        holiday_country=holiday_country.strip().upper(),
        holiday_subdivision=holiday_subdivision.strip().upper(),
        start=start,
        end=end,
        note=note.strip(),
        created_by=actor_user(actor),
        created_at=timezone.now(),
    )
    absence.full_clean(exclude=["engineer"])
    with transaction.atomic():
        if kind == AbsenceKind.ADMINISTRATIVE_DAY and engineer is not None:
            # One writer per engineer at a time: two requests cannot both take the last day.
            StaffMember.objects.select_for_update().filter(pk=engineer.pk).first()
            administrative_days_check(absence)
        absence.save(force_insert=True)
        return absence


def administrative_days_check(absence: Absence) -> None:
    """Refuse an Administrative Day absence that would take an engagement of its engineer
    past the cap of a twelve-month period (counted in the engineer's Business Days)."""
    engineer = absence.engineer
    if engineer is None:
        return
    engagements = list(
        Engagement.objects.filter(engineer=engineer, start__lte=absence.end, end__gte=absence.start)
        .select_related("organisation")
        .prefetch_related("subscriptions__policy")
    )
    if not engagements:
        return
    own = Absence.objects.filter(engineer=engineer, kind=AbsenceKind.ADMINISTRATIVE_DAY).exclude(
        pk=absence.pk
    )
    for engagement in engagements:
        _, terms = dse_policy(engagement.subscriptions.all()[0], engagement.start)
        business = available_calendar(terms.available_hours, calendars.place_of(engineer), ())
        new_days = {
            day
            for day in calendars.expand([(absence.start, absence.end)])
            if business.is_business_day(day)
        }
        if not new_days:
            raise ValidationError(
                {"start": "An Administrative Day is a Business Day: these dates hold none."}
            )
        taken = {
            day
            for day in calendars.expand(own.values_list("start", "end"))
            if business.is_business_day(day)
        } - new_days
        for period in calendars.periods(
            engagement.start, engagement.end, terms.administrative_days_per_year
        ):
            adding = {d for d in new_days if period.start <= d <= period.end}
            if not adding:
                continue
            held = {d for d in taken if period.start <= d <= period.end}
            if len(held) + len(adding) > period.cap:
                raise ValidationError(
                    {
                        "start": f"Administrative Days: this would make {len(held) + len(adding)} "
                        f"in {period.start} to {period.end} of the engagement with "
                        f"{engagement.organisation}, which allows {period.cap} "
                        f"({len(held)} already taken)."
                    }
                )
