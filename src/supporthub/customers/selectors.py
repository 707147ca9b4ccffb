"""Reads about organisations: the subscription and support level in force."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.db.models import QuerySet, Value
from django.db.models.functions import Upper

from supporthub.customers.models import Organisation, Subscription, SupportContact
from supporthub.policies import schema
from supporthub.policies.models import Policy, PolicyVersion
from supporthub.policies.selectors import policy_version_in_force
from supporthub.prepared import Prepared, concrete_columns, model_rows


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


# The subscription in force, its policy and the policy version in force, in one statement.
# Written as SQL because this is ticket creation's hot path: the ORM form of the same query
# (five correlated subqueries) cost more to compile than the database took to answer it.
# The version's text is not fetched: it is loaded only if this process has not parsed it.
# The closures' stamp rides along, so opening a ticket reads closures only when they changed.
# The subscription's columns are named (never s.*): a statement PostgreSQL has prepared keeps
# working after a migration adds a column, instead of failing until its connection closes.
_SUBSCRIPTION_COLUMNS = concrete_columns(Subscription, table="s")
_ENTITLEMENT_SQL = f"""
    SELECT {_SUBSCRIPTION_COLUMNS}, p.key AS p_key, p.name AS p_name,
           v.id AS v_id, v.effective_date AS v_effective_date, v.sha256 AS v_sha256,
           v.source_name AS v_source_name,
           (SELECT c.token FROM sla_calendarstamp c WHERE c.id = 1) AS calendar_stamp
    FROM customers_subscription s
    JOIN policies_policy p ON p.id = s.policy_id
    LEFT JOIN policies_policyversion v ON v.id = (
        SELECT v2.id FROM policies_policyversion v2
        WHERE v2.policy_id = s.policy_id AND v2.effective_date <= %s
        ORDER BY v2.effective_date DESC, v2.id DESC LIMIT 1)
    WHERE s.organisation_id = %s AND s.term_start <= %s AND s.term_end >= %s
    ORDER BY s.term_start DESC, s.id DESC
    LIMIT 1
"""  # noqa: S608 - the names interpolated are the model's own columns


# Makes the subscription of an _ENTITLEMENT_SQL row (its first columns: this query's own).
_SUBSCRIPTION_ROW = model_rows(Subscription)

# Set by `entitlements_remembered`: (organisation instance, day) -> what entitlement_on found.
_remembered: ContextVar[dict[tuple[int, int, date], Entitlement | None] | None] = ContextVar(
    "customers_remembered_entitlements", default=None
)


@contextmanager
def entitlements_remembered() -> Iterator[None]:
    """Within the block, entitlement_on answers a repeated question from the first answer.

    For one unit of work in one transaction that asks the same thing twice (mail to ticket
    reads the email severity, then ticket_open the entitlement); never for longer, since
    subscriptions and policy versions change.
    """
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def entitlement_on(*, organisation: Organisation, on: date) -> Entitlement | None:
    """The subscription in force and its policy version, in one query."""
    remembered = _remembered.get()
    if remembered is None:
        return _entitlement_on(organisation, on)
    # The instance's identity too: the subscription returned points to the caller's instance.
    key = (id(organisation), organisation.pk, on)
    if key not in remembered:
        remembered[key] = _entitlement_on(organisation, on)
    return remembered[key]


def _entitlement_on(organisation: Organisation, on: date) -> Entitlement | None:
    day = on.isoformat()
    # Through the cursor rather than a RawQuerySet, which maps columns to fields by name
    # for every row: the subscription's columns come first, in the model's order.
    with connection.cursor() as cursor:
        cursor.execute(_ENTITLEMENT_SQL, [day, organisation.pk, day, day])
        rows = cursor.fetchall()
    if not rows:
        return None
    width = len(Subscription._meta.concrete_fields)
    [subscription] = _SUBSCRIPTION_ROW.from_rows([rows[0][:width]])
    p_key, p_name, v_id, effective, v_sha256, v_source_name, stamp = rows[0][width:]
    subscription.policy = Policy(pk=subscription.policy_id, key=p_key, name=p_name)
    subscription.organisation = organisation
    if v_id is None:
        return entitlement_for(subscription=subscription, on=on)  # raises PolicyNotInForce
    version = PolicyVersion.from_db(
        "default",
        ["id", "policy_id", "effective_date", "sha256", "source_name"],
        [
            v_id,
            subscription.policy_id,
            effective if isinstance(effective, date) else date.fromisoformat(effective),
            v_sha256,
            v_source_name,
        ],
    )
    version.policy = subscription.policy
    return _entitlement(subscription, version, stamp)


# Support Contacts by address in any case: UPPER on both sides, email__iexact's comparison on
# PostgreSQL (served by the support_contact_email_upper index; on SQLite both are ASCII-only).
# Compiled once: every inbound mail's sender and every API create's requester is looked up.
_ACTIVE_WITH_EMAIL: Prepared[SupportContact] = Prepared(
    lambda email: (
        SupportContact.objects.alias(email_upper=Upper("email"))
        .filter(email_upper=Upper(Value(email)), is_active=True)
        .select_related("organisation", "user")
    ),
    markers=["\x00email\x00"],
)
_OF_ORGANISATION_WITH_EMAIL: Prepared[SupportContact] = Prepared(
    lambda organisation_id, email: (
        SupportContact.objects.alias(email_upper=Upper("email"))
        .filter(organisation_id=organisation_id, email_upper=Upper(Value(email)))
        .order_by("name", "pk")
    ),  # one organisation: its name would only cost a join
    markers=[-424242, "\x00email\x00"],
)


def active_contacts_with_email(email: str) -> list[SupportContact]:
    """Active Support Contacts with this address (one per organisation at most), with their
    organisation and login, in the contacts' own order (organisation name first)."""
    return _ACTIVE_WITH_EMAIL(email.strip())


def contact_with_email(*, organisation: Organisation, email: str) -> SupportContact | None:
    """The organisation's Support Contact with this address, active or not (the first by
    name, should two differ only in case)."""
    return _OF_ORGANISATION_WITH_EMAIL.first(organisation.pk, email.strip())


def active_support_contacts(*, organisation: Organisation) -> QuerySet[SupportContact]:
    return SupportContact.objects.filter(organisation=organisation, is_active=True)


def holiday_place(*, organisation: Organisation, policy: schema.Policy) -> tuple[str, str | None]:
    """The country (and subdivision) whose national holidays close Business Days."""
    if organisation.holiday_country:
        return organisation.holiday_country, organisation.holiday_subdivision or None
    return policy.holiday_country, policy.holiday_subdivision
