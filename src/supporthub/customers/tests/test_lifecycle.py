from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from supporthub.customers import services
from supporthub.customers.models import LifecycleTransition, Stage
from supporthub.staff.models import Role
from supporthub.testing import factories as f
from supporthub.testing.world import World


@pytest.mark.django_db
def test_move_to_customer_success_records_who_and_when_and_sets_primary(world: World) -> None:
    pm = f.staff(user__username="pat", role_codes=[Role.PROJECT_MANAGER])
    organisation = world.organisation
    organisation.project_manager = pm
    organisation.primary_staff_contact = pm
    organisation.save()
    actor = f.user(username="boss")

    services.organisation_move_to_customer_success(
        organisation=organisation, account_manager=world.amy, actor=actor
    )

    organisation.refresh_from_db()
    assert organisation.stage == Stage.CUSTOMER_SUCCESS
    assert organisation.primary_staff_contact == world.amy
    transition = LifecycleTransition.objects.get(organisation=organisation)
    assert (transition.actor, transition.project_manager, transition.account_manager) == (
        actor,
        pm,
        world.amy,
    )


@pytest.mark.django_db
def test_only_a_cs_account_manager_can_take_over(world: World) -> None:
    with pytest.raises(ValidationError, match="not a CS account manager"):
        services.organisation_move_to_customer_success(
            organisation=world.organisation, account_manager=world.alice, actor=None
        )


@pytest.mark.django_db
def test_the_transition_happens_once(world: World) -> None:
    services.organisation_move_to_customer_success(
        organisation=world.organisation, account_manager=world.amy, actor=None
    )
    with pytest.raises(ValidationError, match="already in Customer success"):
        services.organisation_move_to_customer_success(
            organisation=world.organisation, account_manager=world.amy, actor=None
        )


@pytest.mark.django_db
def test_holiday_override_must_be_a_known_country_and_subdivision(world: World) -> None:
    organisation = world.organisation
    organisation.holiday_country = "ZZ"
    with pytest.raises(ValidationError) as exc:
        organisation.full_clean()
    assert "holiday_country" in exc.value.message_dict
    organisation.holiday_country = "US"
    organisation.holiday_subdivision = "XX"
    with pytest.raises(ValidationError) as exc:
        organisation.full_clean()
    assert "holiday_subdivision" in exc.value.message_dict
    organisation.holiday_subdivision = "CA"
    organisation.full_clean()
