"""Reads about organisations: the subscription and support level in force."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import OuterRef, QuerySet, Value
from django.db.models.functions import Upper

from supporthub.customers.models import Organisation, Subscription, SupportContact
from supporthub.policies import schema
from supporthub.policies.models import PolicyVersion
from supporthub.policies.selectors import (
    policy_version_from_subquery,
    policy_version_in_force,
    policy_version_in_force_subquery,
)
from supporthub.sla.selectors import calendar_stamp_subquery


@dataclass(frozen=True)
class Entitlement:
    """What an organisation is entitled to at an instant: subscription, policy, support level."""

    subscription: Subscription
    policy_version: PolicyVersion
    policy: schema.Policy
    support_level: schema.SupportLevel
    # The closures' CalendarStamp token, read in the same query (None when not read).
    calendar_stamp: str | None = None

    @property
    def subscription_level(self) -> schema.SubscriptionLevel:
        return self.policy.subscription_levels[self.subscription.level]


def local_date(organisation: Organisation, at: datetime) -> date:
    """The calendar date at `at` where the organisation is (terms and policies are dates)."""
    return at.astimezone(zoneinfo.ZoneInfo(organisation.time_zone)).date()


def subscription_in_force(*, organisation: Organisation, on: date) -> Subscription | None:
    return (
        Subscription.objects.filter(organisation=organisation, term_start__lte=on, term_end__gte=on)
        .select_related("policy")
        .order_by("-term_start", "-pk")
        .first()
    )


def entitlement_for(*, subscription: Subscription, on: date) -> Entitlement:
    version = policy_version_in_force(policy_key=subscription.policy.key, on=on)
    return _entitlement(subscription, version)


def _entitlement(
    subscription: Subscription, version: PolicyVersion, calendar_stamp: str | None = None
) -> Entitlement:
    policy = version.document()
    return Entitlement(
        subscription=subscription,
        policy_version=version,
        policy=policy,
        support_level=policy.support_level_for(subscription.level),
        calendar_stamp=calendar_stamp,
    )


def entitlement_on(*, organisation: Organisation, on: date) -> Entitlement | None:
    """The subscription in force and its policy version, in one query.

    The policy version in force and the closures' stamp are read in the same statement,
    through the policies and sla apps' own subqueries (their tables stay theirs); the version's
    text is not fetched: it is loaded only if this process has not parsed that version.
    """
    found = list(
        Subscription.objects.filter(organisation_id=organisation.pk, term_start__lte=on)
        .filter(term_end__gte=on)
        .select_related("policy")
        .annotate(
            version_in_force=policy_version_in_force_subquery(policy=OuterRef("policy_id"), on=on),
            calendar_stamp=calendar_stamp_subquery(),
        )
        .order_by("-term_start", "-pk")[:1]
    )
    if not found:
        return None
    [subscription] = found
    subscription.organisation = organisation
    version = policy_version_from_subquery(
        subscription.version_in_force, policy=subscription.policy
    )
    if version is None:
        return entitlement_for(subscription=subscription, on=on)  # raises PolicyNotInForce
    return _entitlement(subscription, version, subscription.calendar_stamp)


def active_contacts_with_email(email: str) -> list[SupportContact]:
    """Active Support Contacts with this address (one per organisation at most), with their
    organisation and login, in the contacts' own order (organisation name first)."""
    # Any case: UPPER on both sides, email__iexact's comparison on PostgreSQL (served by the
    # support_contact_email_upper index; on SQLite both are ASCII-only).
    return list(
        SupportContact.objects.alias(email_upper=Upper("email"))
        .filter(email_upper=Upper(Value(email.strip())), is_active=True)
        .select_related("organisation", "user")
    )


def contact_with_email(*, organisation: Organisation, email: str) -> SupportContact | None:
    """The organisation's Support Contact with this address, active or not (the first by
    name, should two differ only in case)."""
    return (
        SupportContact.objects.alias(email_upper=Upper("email"))
        .filter(organisation_id=organisation.pk, email_upper=Upper(Value(email.strip())))
        .order_by("name", "pk")  # one organisation: its name would only cost a join
        .first()
    )


def active_support_contacts(*, organisation: Organisation) -> QuerySet[SupportContact]:
    return SupportContact.objects.filter(organisation=organisation, is_active=True)


def holiday_place(*, organisation: Organisation, policy: schema.Policy) -> tuple[str, str | None]:
    """The country (and subdivision) whose national holidays close Business Days."""
    if organisation.holiday_country:
        return organisation.holiday_country, organisation.holiday_subdivision or None
    return policy.holiday_country, policy.holiday_subdivision
