"""Reads about organisations: the subscription and support level in force."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import OuterRef, QuerySet, Subquery

from supporthub.customers.models import Organisation, Subscription, SupportContact
from supporthub.policies import schema
from supporthub.policies.models import PolicyVersion
from supporthub.policies.selectors import policy_version_in_force


@dataclass(frozen=True)
class Entitlement:
    """What an organisation is entitled to at an instant: subscription, policy, support level."""

    subscription: Subscription
    policy_version: PolicyVersion
    policy: schema.Policy
    support_level: schema.SupportLevel

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
    policy = version.document()
    return Entitlement(
        subscription=subscription,
        policy_version=version,
        policy=policy,
        support_level=policy.support_level_for(subscription.level),
    )


# The columns of the policy version in force, fetched with the subscription in one query;
# the version's text is loaded only if this process has not parsed it yet.
_VERSION_COLUMNS = ("id", "policy_id", "effective_date", "sha256", "source_name")


def entitlement_on(*, organisation: Organisation, on: date) -> Entitlement | None:
    """The subscription in force and its policy version, in one query (ticket creation's
    hot path)."""
    in_force = PolicyVersion.objects.filter(
        policy_id=OuterRef("policy_id"), effective_date__lte=on
    ).order_by("-effective_date", "-pk")
    subscription = (
        Subscription.objects.filter(organisation=organisation, term_start__lte=on, term_end__gte=on)
        .select_related("policy")
        .annotate(
            **{f"pv_{c}": Subquery(in_force.values(c)[:1]) for c in _VERSION_COLUMNS},
        )
        .order_by("-term_start", "-pk")
        .first()
    )
    if subscription is None:
        return None
    values = [getattr(subscription, f"pv_{c}") for c in _VERSION_COLUMNS]
    if values[0] is None:
        return entitlement_for(subscription=subscription, on=on)  # raises PolicyNotInForce
    version = PolicyVersion.from_db("default", list(_VERSION_COLUMNS), values)
    version.policy = subscription.policy
    policy = version.document()
    return Entitlement(
        subscription=subscription,
        policy_version=version,
        policy=policy,
        support_level=policy.support_level_for(subscription.level),
    )


def active_support_contacts(*, organisation: Organisation) -> QuerySet[SupportContact]:
    return SupportContact.objects.filter(organisation=organisation, is_active=True)


def holiday_place(*, organisation: Organisation, policy: schema.Policy) -> tuple[str, str | None]:
    """The country (and subdivision) whose national holidays close Business Days."""
    if organisation.holiday_country:
        return organisation.holiday_country, organisation.holiday_subdivision or None
    return policy.holiday_country, policy.holiday_subdivision
