"""The entitlement read: subscription in force, its policy and the version in force, with the
closures' stamp, in one statement; Support Contacts by address in any case."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from supporthub.customers.models import Subscription
from supporthub.customers.selectors import (
    active_contacts_with_email,
    contact_with_email,
    entitlement_on,
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
    found = contact_with_email(organisation=world.organisation, email=address)
    assert found is not None and found.pk == world.carol.pk  # active or not
    assert contact_with_email(organisation=world.other_organisation, email=address) is None
