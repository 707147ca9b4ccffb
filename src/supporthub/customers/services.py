"""Writes about organisations: their details, lifecycle, subscriptions, the Support Contact
cap."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from supporthub.actors import Actor, actor_user
from supporthub.customers import selectors
from supporthub.customers.models import (
    LifecycleTransition,
    Organisation,
    Stage,
    Subscription,
    SupportContact,
)
from supporthub.policies.selectors import policy_version_in_force
from supporthub.sla.retiming import RetimeResult, retime_open_tickets
from supporthub.staff.models import Role, StaffMember
from supporthub.validators import normalise_phone


class ContactCapError(ValidationError):
    """Adding or keeping contacts would exceed the support level's included number."""


def _lock(organisation: Organisation) -> Organisation:
    # Row lock on PostgreSQL; on SQLite the IMMEDIATE transaction already serialises writers.
    return Organisation.objects.select_for_update().get(pk=organisation.pk)


def check_room_for_one_more(organisation: Organisation) -> None:
    today = selectors.local_date(organisation, timezone.now())
    entitlement = selectors.entitlement_on(organisation=organisation, on=today)
    if entitlement is None:
        raise ContactCapError(
            f"{organisation.name} has no subscription in force on {today.isoformat()}, "
            "so it has no Support Contacts to add; add a subscription first.",
            code="no_subscription",
        )
    cap = entitlement.support_level.support_contacts
    active = selectors.active_support_contacts(organisation=organisation).count()
    if cap is not None and active >= cap:
        raise ContactCapError(
            f"The {entitlement.support_level.name} support level includes {cap} Support "
            f"Contacts and {organisation.name} already has {active} active; retire one "
            "before adding another.",
            code="contact_cap",
        )


def support_contact_add(
    *,
    organisation: Organisation,
    name: str,
    email: str,
    phone: str = "",
    user: User | None = None,
    time_zone: str = "",
) -> SupportContact:
    """Add an active Support Contact, within the cap of the support level in force."""
    with transaction.atomic():
        organisation = _lock(organisation)
        check_room_for_one_more(organisation)
        contact = SupportContact(
            organisation=organisation,
            name=name.strip(),
            email=email.strip().lower(),
            phone=normalise_phone(phone) if phone else "",
            user=user,
            time_zone=time_zone,
        )
        contact.full_clean()
        contact.save()
        return contact


def support_contact_retire(*, contact: SupportContact) -> SupportContact:
    with transaction.atomic():
        if contact.is_active:
            contact.is_active = False
            contact.retired_at = timezone.now()
            contact.save(update_fields=["is_active", "retired_at"])
        return contact


def support_contact_reactivate(*, contact: SupportContact) -> SupportContact:
    with transaction.atomic():
        check_room_for_one_more(_lock(contact.organisation))
        contact.is_active = True
        contact.retired_at = None
        contact.save(update_fields=["is_active", "retired_at"])
        return contact


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED = _Unchanged.UNCHANGED  # a detail `support_contact_update` leaves as it is


def support_contact_update(
    *,
    contact: SupportContact,
    name: str,
    email: str,
    phone: str,
    time_zone: str | _Unchanged = UNCHANGED,
    organisation: Organisation | _Unchanged = UNCHANGED,
    user: User | None | _Unchanged = UNCHANGED,
) -> SupportContact:
    """Change a contact's details, organisation and login (not its status: that goes through
    retire/reactivate). An active contact moved into an organisation takes one of that
    organisation's Support Contacts, within its cap; a refusal changes nothing."""
    with transaction.atomic():
        stored = SupportContact.objects.select_for_update().get(pk=contact.pk)
        target = stored.organisation if organisation is UNCHANGED else organisation
        if target.pk != stored.organisation_id:
            target = _lock(target)
            if stored.is_active:
                check_room_for_one_more(target)
        contact.organisation = target
        contact.name = name.strip()
        contact.email = email.strip().lower()
        contact.phone = normalise_phone(phone) if phone else ""
        contact.time_zone = stored.time_zone if time_zone is UNCHANGED else time_zone
        contact.user = stored.user if user is UNCHANGED else user
        contact.full_clean()
        contact.save(update_fields=["organisation", "name", "email", "phone", "time_zone", "user"])
        return contact


def subscription_validate(*, subscription: Subscription) -> None:
    """Check a subscription against its policy and the organisation's active contacts."""
    subscription.full_clean()
    subscription_check_policy(subscription=subscription)


def subscription_check_policy(*, subscription: Subscription) -> None:
    """The rules beyond the model's own validation: a level the policy in force at the term's
    start knows, and no more active Support Contacts than that level includes."""
    organisation = subscription.organisation
    version = policy_version_in_force(
        policy_key=subscription.policy.key, on=subscription.term_start
    )
    policy = version.document()
    if subscription.level not in policy.subscription_levels:
        known = ", ".join(policy.subscription_levels)
        raise ValidationError(
            {
                "level": f"{subscription.level!r} is not a subscription level of "
                f"{policy.name} (known: {known})"
            }
        )
    today = selectors.local_date(organisation, timezone.now())
    if subscription.term_end < today:
        return
    level = policy.support_level_for(subscription.level)
    active = selectors.active_support_contacts(organisation=organisation).count()
    if level.support_contacts is not None and active > level.support_contacts:
        excess = active - level.support_contacts
        raise ContactCapError(
            f"The {level.name} support level includes {level.support_contacts} Support "
            f"Contacts but {organisation.name} has {active} active: an administrator must "
            f"retire {excess} before this subscription can apply.",
            code="contact_cap",
        )


def subscription_save(*, subscription: Subscription) -> Subscription:
    """Create or change a subscription; a level that leaves too many active contacts is refused."""
    with transaction.atomic():
        subscription.organisation = _lock(subscription.organisation)
        subscription_validate(subscription=subscription)
        subscription.save()
        return subscription


CALENDAR_FIELDS = ("time_zone", "holiday_country", "holiday_subdivision")


def organisation_save(*, organisation: Organisation) -> RetimeResult:
    """Save an organisation; if its calendar changed (zone, holidays), re-time its open tickets."""
    with transaction.atomic():
        organisation.full_clean()
        before = (
            Organisation.objects.filter(pk=organisation.pk).values(*CALENDAR_FIELDS).first()
            if organisation.pk
            else None
        )
        organisation.save()
        if before is None:
            return RetimeResult(examined=0, retimed=0)
        changed = [f for f in CALENDAR_FIELDS if before[f] != getattr(organisation, f)]
        if not changed:
            return RetimeResult(examined=0, retimed=0)
        described = ", ".join(
            f"{field} {before[field] or '(none)'} -> {getattr(organisation, field) or '(none)'}"
            for field in changed
        )
        return retime_open_tickets(
            organisation_ids=[organisation.pk], reason=f"organisation calendar: {described}"
        )


def organisation_move_to_customer_success(
    *,
    organisation: Organisation,
    account_manager: StaffMember,
    actor: Actor,
    note: str = "",
    at: datetime | None = None,
) -> Organisation:
    """Onboarding → customer success: the account manager becomes the primary contact."""
    with transaction.atomic():
        organisation = _lock(organisation)
        if organisation.stage != Stage.ONBOARDING:
            raise ValidationError(
                f"{organisation.name} is already in {Stage(organisation.stage).label}.",
                code="stage",
            )
        if not account_manager.has_role(Role.CS_ACCOUNT_MANAGER):
            raise ValidationError(
                {"account_manager": f"{account_manager} is not a CS account manager."}
            )
        LifecycleTransition.objects.create(
            organisation=organisation,
            from_stage=Stage.ONBOARDING,
            to_stage=Stage.CUSTOMER_SUCCESS,
            project_manager=organisation.project_manager,
            account_manager=account_manager,
            actor=actor_user(actor),
            at=at or timezone.now(),
            note=note,
        )
        organisation.stage = Stage.CUSTOMER_SUCCESS
        organisation.account_manager = account_manager
        organisation.primary_staff_contact = account_manager
        organisation.save(update_fields=["stage", "account_manager", "primary_staff_contact"])
        return organisation
