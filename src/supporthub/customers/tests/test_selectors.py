"""The entitlement read: subscription in force, its policy and the version in force, with the
closures' stamp, in one statement (with the requester, for an API create); Support Contacts
by address in any case."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from supporthub.customers.models import Subscription, SupportContact
from supporthub.customers.selectors import (
    active_contacts_with_email,
    entitlement_on,
    requester_and_entitlement,
)
from supporthub.policies.models import PolicyVersion
from supporthub.policies.selectors import PolicyNotInForce
from supporthub.sla.models import CalendarStamp
from supporthub.testing.world import World


@pytest.mark.django_db
def test_the_entitlement_is_read_in_one_statement(world: World) -> None:
    organisation = world.organisation
    with CaptureQueriesContext(connection) as captured:
        entitlement = entitlement_on(organisation=organisation, on=date(2026, 3, 4))
    assert entitlement is not None
    assert len(captured.captured_queries) == 1, captured.captured_queries
    subscription = Subscription.objects.get(organisation=organisation)
    assert entitlement.subscription.pk == subscription.pk
    assert entitlement.subscription.organisation is organisation  # the caller's instance
    assert entitlement.subscription.policy.key == "cloud-support"
    stored = PolicyVersion.objects.get(policy__key="cloud-support")
    version = entitlement.policy_version
    assert (version.pk, version.policy_id, version.effective_date, version.sha256) == (
        stored.pk,
        stored.policy_id,
        stored.effective_date,
        stored.sha256,
    )
    assert version.source_name == stored.source_name
    assert "source_text" in version.get_deferred_fields()  # loaded only when not parsed yet
    assert entitlement.support_level.key == entitlement.policy.support_level_for("gold").key
    stamp = CalendarStamp.objects.filter(pk=1).values_list("token", flat=True).first()
    assert entitlement.calendar_stamp == stamp


@pytest.mark.django_db
def test_the_version_in_force_is_the_latest_on_or_before_the_day(world: World) -> None:
    first = PolicyVersion.objects.get(policy__key="cloud-support")
    later = PolicyVersion.objects.create(
        policy=first.policy,
        effective_date=date(2027, 1, 1),
        sha256=first.sha256,
        source_name="later.toml",
        source_text=first.source_text,
    )
    before = entitlement_on(organisation=world.organisation, on=date(2026, 12, 31))
    on = entitlement_on(organisation=world.organisation, on=date(2027, 1, 1))
    assert before is not None and before.policy_version.pk == first.pk
    assert on is not None and on.policy_version.pk == later.pk
    assert on.policy_version.effective_date == date(2027, 1, 1)


@pytest.mark.django_db
def test_no_subscription_in_force_is_none_and_no_version_in_force_says_so(
    world: World,
) -> None:
    assert entitlement_on(organisation=world.organisation, on=date(2031, 1, 1)) is None
    first = PolicyVersion.objects.get(policy__key="cloud-support").effective_date
    # A term reaching back before the policy's first version (written past the checks).
    Subscription.objects.filter(organisation=world.organisation).update(term_start=date(2000, 1, 1))
    with pytest.raises(PolicyNotInForce):
        entitlement_on(organisation=world.organisation, on=date(first.year - 1, 1, 1))


@pytest.mark.django_db
def test_contacts_are_found_by_address_in_any_case(world: World) -> None:
    address = world.carol.email.upper()
    assert [c.pk for c in active_contacts_with_email(f"  {address} ")] == [world.carol.pk]
    world.carol.is_active = False
    world.carol.save(update_fields=["is_active"])
    assert active_contacts_with_email(address) == []
    day = date(2026, 3, 4)
    found, _ = requester_and_entitlement(organisation=world.organisation, email=address, on=day)
    assert found is not None and found.pk == world.carol.pk  # active or not
    other, _ = requester_and_entitlement(
        organisation=world.other_organisation, email=address, on=day
    )
    assert other is None


@pytest.mark.django_db
def test_the_requester_and_the_entitlement_are_read_in_one_statement(world: World) -> None:
    """The API create's read: the contact as the ORM reads it (every field, datetimes aware
    on both databases), the entitlement as entitlement_on reads it."""
    organisation, day = world.organisation, date(2026, 3, 4)
    with CaptureQueriesContext(connection) as captured:
        contact, entitlement = requester_and_entitlement(
            organisation=organisation, email=world.carol.email.upper(), on=day
        )
    assert len(captured.captured_queries) == 1, captured.captured_queries
    stored = SupportContact.objects.get(pk=world.carol.pk)
    assert contact is not None and contact.organisation is organisation
    fields = [f.attname for f in SupportContact._meta.concrete_fields]
    assert [getattr(contact, f) for f in fields] == [getattr(stored, f) for f in fields]
    assert contact.created_at.tzinfo is not None and not contact.get_deferred_fields()
    alone = entitlement_on(organisation=organisation, on=day)
    assert entitlement is not None and alone is not None
    assert entitlement.subscription.pk == alone.subscription.pk
    assert entitlement.policy_version.pk == alone.policy_version.pk
    assert entitlement.calendar_stamp == alone.calendar_stamp
    # Each part on its own: no such contact (or another organisation's), no subscription.
    nobody, found = requester_and_entitlement(
        organisation=organisation, email="nobody@example.com", on=day
    )
    assert nobody is None and found is not None
    other, _ = requester_and_entitlement(
        organisation=world.other_organisation, email=world.carol.email, on=day
    )
    assert other is None
    contact, none = requester_and_entitlement(
        organisation=organisation, email=world.carol.email, on=date(2031, 1, 1)
    )
    assert contact is not None and contact.pk == world.carol.pk and none is None
