"""Reads about organisations: the subscription and support level in force."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet, Value
from django.db.models.functions import Upper

from supporthub import rows
from supporthub.customers.models import Organisation, Subscription, SupportContact
from supporthub.policies import schema
from supporthub.policies.models import PolicyVersion
from supporthub.policies.selectors import in_force_from_row, in_force_sql, policy_version_in_force
from supporthub.sla.selectors import calendar_stamp_sql


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


# The entitlement read of every ticket opened, written as SQL (see supporthub.rows): the
# subscription in force, its policy and the version in force (the policies app's fragment)
# and the closures' stamp (the sla app's); for an API create, the requester named by address
# too, in the same statement. Names come from the models' _meta; values are parameters.
_SUBSCRIPTION_READ = tuple(field.attname for field in Subscription._meta.concrete_fields)
_CONTACT_READ = tuple(field.attname for field in SupportContact._meta.concrete_fields)
_IN_FORCE = in_force_sql(policy_id=f's."{rows.column(Subscription, "policy_id")}"')


def _opening_sql(*, with_contact: bool) -> str:
    sub, contact = rows.table(Subscription), rows.table(SupportContact)

    def s_(name: str) -> str:
        return f'"{rows.column(Subscription, name)}"'

    def c_(name: str) -> str:
        return f'"{rows.column(SupportContact, name)}"'

    select = (
        f"{rows.columns(Subscription, _SUBSCRIPTION_READ, alias='s')}, {_IN_FORCE.select}, "
        f"{calendar_stamp_sql()}"
    )
    joins = (
        f"LEFT JOIN {sub} s ON s.{s_('id')} = (SELECT x.{s_('id')} FROM {sub} x "  # noqa: S608
        f"WHERE x.{s_('organisation_id')} = %s AND x.{s_('term_start')} <= %s "
        f"AND x.{s_('term_end')} >= %s "
        f"ORDER BY x.{s_('term_start')} DESC, x.{s_('id')} DESC LIMIT 1) {_IN_FORCE.joins}"
    )
    if with_contact:
        # Any case, UPPER on both sides as active_contacts_with_email; one organisation, so
        # the first by name (should two differ only in case) costs no join.
        select += f", {rows.columns(SupportContact, _CONTACT_READ, alias='c')}"
        joins += (
            f" LEFT JOIN {contact} c ON c.{c_('id')} = (SELECT y.{c_('id')} FROM {contact} y "  # noqa: S608
            f"WHERE y.{c_('organisation_id')} = %s AND UPPER(y.{c_('email')}) = UPPER(%s) "
            f"ORDER BY y.{c_('name')}, y.{c_('id')} LIMIT 1)"
        )
    return f"SELECT {select} FROM (SELECT 1 AS one) one_ {joins}"  # noqa: S608


_ENTITLEMENT_SQL = _opening_sql(with_contact=False)
_ENTITLEMENT_AND_CONTACT_SQL = _opening_sql(with_contact=True)


def entitlement_on(*, organisation: Organisation, on: date) -> Entitlement | None:
    """The subscription in force and its policy version, in one statement (None: no
    subscription in force). The version's text is not fetched: it is loaded only if this
    process has not parsed that version."""
    day = on.isoformat()
    row, db = _read(_ENTITLEMENT_SQL, [organisation.pk, day, day, day])
    return _entitlement_from_row(row, organisation=organisation, on=on, db=db)


def requester_and_entitlement(
    *, organisation: Organisation, email: str, on: date
) -> tuple[SupportContact | None, Entitlement | None]:
    """The organisation's Support Contact with this address, active or not (the first by
    name, should two differ only in case; any case, as active_contacts_with_email), and
    `entitlement_on`, in one statement: an API create's reads."""
    day = on.isoformat()
    row, db = _read(
        _ENTITLEMENT_AND_CONTACT_SQL, [organisation.pk, day, day, day, organisation.pk, email]
    )
    contact_values = row[-len(_CONTACT_READ) :]
    contact = None
    if contact_values[0] is not None:
        contact = rows.instance(SupportContact, _CONTACT_READ, contact_values, db)
        contact.organisation = organisation
    entitlement = _entitlement_from_row(row, organisation=organisation, on=on, db=db)
    return contact, entitlement


def _read(sql: str, params: list[Any]) -> tuple[tuple[Any, ...], str]:
    row, db = rows.fetch_one(Subscription, sql, params)
    if row is None:  # FROM (SELECT 1) gives one row whatever the joins find
        raise RuntimeError("the entitlement read returned no row")
    return tuple(row), db


def _entitlement_from_row(
    row: tuple[Any, ...], *, organisation: Organisation, on: date, db: str
) -> Entitlement | None:
    width = len(_SUBSCRIPTION_READ)
    if row[0] is None:
        return None
    subscription = rows.instance(Subscription, _SUBSCRIPTION_READ, row[:width], db)
    policy, version = in_force_from_row(row[width : width + _IN_FORCE.width], db=db)
    subscription.organisation = organisation
    subscription.policy = policy
    if version is None:
        return entitlement_for(subscription=subscription, on=on)  # raises PolicyNotInForce
    return _entitlement(subscription, version, row[width + _IN_FORCE.width])


@dataclass(frozen=True)
class OrganisationSQL:
    """The customers app's part of another app's hand-written read (see supporthub.rows):
    the organisation whose primary key is a column of the caller's row (alias `o_`), NULL
    columns when there is none. `joins` goes after the caller's FROM; `select` is `width`
    columns for its SELECT list, read back by `organisation_from_row`."""

    joins: str
    select: str
    width: int


_ORGANISATION_READ = tuple(field.attname for field in Organisation._meta.concrete_fields)


def organisation_sql(*, organisation_id: str) -> OrganisationSQL:
    """`organisation_id`: the caller's SQL for the organisation's key (`t."organisation_id"`)."""
    key = rows.column(Organisation, "id")
    return OrganisationSQL(
        joins=f'LEFT JOIN {rows.table(Organisation)} o_ ON o_."{key}" = {organisation_id}',
        select=rows.columns(Organisation, _ORGANISATION_READ, alias="o_"),
        width=len(_ORGANISATION_READ),
    )


def organisation_from_row(values: Sequence[Any], *, db: str) -> Organisation | None:
    if values[0] is None:
        return None
    return rows.instance(Organisation, _ORGANISATION_READ, values, db)


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


def active_support_contacts(*, organisation: Organisation) -> QuerySet[SupportContact]:
    return SupportContact.objects.filter(organisation=organisation, is_active=True)


def holiday_place(*, organisation: Organisation, policy: schema.Policy) -> tuple[str, str | None]:
    """The country (and subdivision) whose national holidays close Business Days."""
    if organisation.holiday_country:
        return organisation.holiday_country, organisation.holiday_subdivision or None
    return policy.holiday_country, policy.holiday_subdivision
