from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test import Client

from supporthub.customers import services
from supporthub.customers.models import Organisation, Subscription, SupportContact
from supporthub.testing import factories as f


def _base_org_with(n: int) -> Organisation:
    organisation = f.organisation()
    f.subscribe(organisation, level="gold")  # Gold -> Base: 6 Support Contacts
    for i in range(n):
        f.add_contact(organisation, f"Contact {i}")
    return organisation


@pytest.mark.django_db
def test_seventh_base_contact_is_refused_naming_the_cap_and_level() -> None:
    organisation = _base_org_with(6)
    with pytest.raises(services.ContactCapError) as exc:
        f.add_contact(organisation, "Seventh")
    message = " ".join(exc.value.messages)
    assert "Base support level includes 6 Support Contacts" in message
    assert "already has 6 active" in message
    assert SupportContact.objects.filter(organisation=organisation).count() == 6


@pytest.mark.django_db
def test_retired_contacts_do_not_count_and_reactivation_respects_the_cap() -> None:
    organisation = _base_org_with(6)
    first = SupportContact.objects.filter(organisation=organisation).first()
    assert first is not None
    services.support_contact_retire(contact=first)
    f.add_contact(organisation, "Replacement")
    with pytest.raises(services.ContactCapError):
        services.support_contact_reactivate(contact=first)


@pytest.mark.django_db
def test_premium_allows_eight_contacts() -> None:
    organisation = f.organisation()
    f.subscribe(organisation, level="enterprise")
    for i in range(8):
        f.add_contact(organisation, f"Contact {i}")
    with pytest.raises(services.ContactCapError, match="Premium support level includes 8"):
        f.add_contact(organisation, "Ninth")


@pytest.mark.django_db
def test_no_subscription_in_force_means_no_contacts_can_be_added() -> None:
    organisation = f.organisation()
    with pytest.raises(services.ContactCapError, match="no subscription in force"):
        f.add_contact(organisation, "Early")


@pytest.mark.django_db
def test_downgrade_leaving_too_many_contacts_is_refused_and_says_how_many() -> None:
    organisation = f.organisation()
    platinum = f.subscribe(organisation, level="platinum")
    for i in range(8):
        f.add_contact(organisation, f"Contact {i}")
    platinum.level = "gold"
    with pytest.raises(services.ContactCapError, match="must retire 2"):
        services.subscription_save(subscription=platinum)
    platinum.refresh_from_db()
    assert platinum.level == "platinum"
    for contact in SupportContact.objects.filter(organisation=organisation)[:2]:
        services.support_contact_retire(contact=contact)
    platinum.level = "gold"
    services.subscription_save(subscription=platinum)
    assert Subscription.objects.get(pk=platinum.pk).level == "gold"


@pytest.mark.django_db
def test_unknown_subscription_level_names_the_field() -> None:
    organisation = f.organisation()
    with pytest.raises(ValidationError) as exc:
        f.subscribe(organisation, level="diamond")
    assert "level" in exc.value.message_dict
    assert "diamond" in exc.value.message_dict["level"][0]


@pytest.mark.django_db
def test_phone_is_stored_in_e164_and_garbage_is_refused() -> None:
    organisation = _base_org_with(0)
    contact = f.add_contact(organisation, "Dana", phone="+1 (415) 555-0100")
    assert contact.phone == "+14155550100"
    with pytest.raises(ValidationError, match="not a phone number"):
        f.add_contact(organisation, "Eve", phone="call me maybe")


@pytest.mark.django_db(transaction=True)
def test_two_admins_adding_the_seventh_base_contact_at_once_only_one_succeeds() -> None:
    organisation = _base_org_with(5)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def add(name: str) -> None:
        try:
            barrier.wait(timeout=10)
            f.add_contact(organisation, name)
            outcomes.append("added")
        except services.ContactCapError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add, args=(n,)) for n in ("Sixth A", "Sixth B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["added", "refused"]
    assert SupportContact.objects.filter(organisation=organisation, is_active=True).count() == 6


@pytest.mark.django_db
def test_admin_add_form_refuses_the_seventh_contact(admin_client: Client) -> None:
    organisation = _base_org_with(6)
    response = admin_client.post(
        "/admin/customers/supportcontact/add/",
        {"organisation": organisation.pk, "name": "Seventh", "email": "7@x.example", "phone": ""},
    )
    assert response.status_code == 200
    assert "includes 6 Support Contacts" in response.content.decode()
    assert SupportContact.objects.filter(organisation=organisation).count() == 6


@pytest.mark.django_db
def test_admin_add_form_adds_within_the_cap(admin_client: Client) -> None:
    organisation = _base_org_with(5)
    response = admin_client.post(
        "/admin/customers/supportcontact/add/",
        {"organisation": organisation.pk, "name": "Sixth", "email": "6@x.example", "phone": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SupportContact.objects.filter(organisation=organisation).count() == 6


@pytest.mark.django_db
def test_admin_subscription_downgrade_is_refused_with_the_count(admin_client: Client) -> None:
    organisation = f.organisation()
    subscription = f.subscribe(organisation, level="platinum")
    for i in range(7):
        f.add_contact(organisation, f"Contact {i}")
    response = admin_client.post(
        f"/admin/customers/subscription/{subscription.pk}/change/",
        {
            "organisation": organisation.pk,
            "policy": subscription.policy_id,
            "level": "gold",
            "term_start": "2024-06-11",
            "term_end": "2030-12-31",
            "billing_term": "annual",
            "deployment": "cloud",
        },
    )
    assert response.status_code == 200
    assert "must retire 1" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.level == "platinum"


def test_sqlite_runs_in_wal_with_immediate_transactions(db: None) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
