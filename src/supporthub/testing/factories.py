"""factory_boy factories; policies come from the shipped example files."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, cast

import factory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

from supporthub.customers import services as customer_services
from supporthub.customers.models import BillingTerm, Organisation, Subscription, SupportContact
from supporthub.policies.models import Policy, PolicyVersion
from supporthub.policies.services import policy_load
from supporthub.staff.models import Role, StaffMember, StaffRole

EXAMPLES = Path(settings.SRC_DIR).parent.parent / "examples" / "policies"


def load_example_policy(key: str) -> PolicyVersion:
    """Load examples/policies/<key>.toml (a no-op when already loaded)."""
    path = EXAMPLES / f"{key}.toml"
    version, _ = policy_load(text=path.read_text(), source_name=path.name)
    return version


class UserFactory(factory.django.DjangoModelFactory):  # type: ignore[misc]
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pw-for-tests")


class StaffMemberFactory(factory.django.DjangoModelFactory):  # type: ignore[misc]
    class Meta:
        model = StaffMember
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, is_staff=True)
    display_name = factory.LazyAttribute(lambda o: o.user.username.title())
    time_zone = "UTC"

    @factory.post_generation  # type: ignore[misc]
    def role_codes(self, create: bool, extracted: list[Role] | None, **kwargs: Any) -> None:
        for code in extracted or [Role.SUPPORT_ENGINEER]:
            role, _ = StaffRole.objects.get_or_create(code=code)
            self.roles.add(role)


class OrganisationFactory(factory.django.DjangoModelFactory):  # type: ignore[misc]
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    country = "US"
    time_zone = "America/New_York"


def subscribe(
    organisation: Organisation,
    *,
    policy_key: str = "cloud-support",
    level: str = "gold",
    term_start: date = date(2024, 6, 11),
    term_end: date = date(2030, 12, 31),
    billing_term: BillingTerm = BillingTerm.ANNUAL,
) -> Subscription:
    load_example_policy(policy_key)
    return customer_services.subscription_save(
        subscription=Subscription(
            organisation=organisation,
            policy=Policy.objects.get(key=policy_key),
            level=level,
            term_start=term_start,
            term_end=term_end,
            billing_term=billing_term,
        )
    )


def add_contact(organisation: Organisation, name: str, **kwargs: Any) -> SupportContact:
    email = kwargs.pop("email", f"{name.lower().replace(' ', '.')}@{organisation.pk}.example")
    return customer_services.support_contact_add(
        organisation=organisation, name=name, email=email, **kwargs
    )


# Typed entry points: factory_boy is untyped, so tests call these.
def organisation(**kwargs: Any) -> Organisation:
    return cast(Organisation, OrganisationFactory(**kwargs))


def staff(**kwargs: Any) -> StaffMember:
    return cast(StaffMember, StaffMemberFactory(**kwargs))


def user(**kwargs: Any) -> AbstractBaseUser:
    return cast(AbstractBaseUser, UserFactory(**kwargs))
