"""Editing a Support Contact in the admin: every field the form shows is saved, and a move the
cap refuses is refused on the form with its reason, the contact left as it was."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from supporthub.customers import services
from supporthub.customers.models import Organisation, SupportContact
from supporthub.testing import factories as f


def _org_with(n: int, **kwargs: Any) -> Organisation:
    organisation = f.organisation(**kwargs)
    f.subscribe(organisation, level="gold")  # Gold -> Base: 6 Support Contacts
    for i in range(n):
        f.add_contact(organisation, f"Contact {i}")
    return organisation


def _form(contact: SupportContact, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "organisation": contact.organisation_id,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "time_zone": contact.time_zone,
        "user": contact.user_id or "",
    }
    data.update(changes)
    return data


def _change(admin_client: Client, contact: SupportContact, **changes: Any) -> Any:
    return admin_client.post(
        f"/admin/customers/supportcontact/{contact.pk}/change/", _form(contact, **changes)
    )


@pytest.mark.django_db
def test_changing_the_organisation_is_saved(admin_client: Client) -> None:
    acme, globex = _org_with(1), _org_with(0)
    contact = SupportContact.objects.get(organisation=acme)
    response = _change(admin_client, contact, organisation=globex.pk)
    assert response.status_code == 302, response.content.decode()[:2000]
    contact.refresh_from_db()
    assert contact.organisation == globex


@pytest.mark.django_db
def test_changing_the_time_zone_is_saved(admin_client: Client) -> None:
    contact = SupportContact.objects.get(organisation=_org_with(1))
    response = _change(admin_client, contact, time_zone="Asia/Tokyo")
    assert response.status_code == 302, response.content.decode()[:2000]
    contact.refresh_from_db()
    assert contact.time_zone == "Asia/Tokyo"


@pytest.mark.django_db
def test_linking_and_unlinking_a_login_is_saved(admin_client: Client) -> None:
    contact = SupportContact.objects.get(organisation=_org_with(1))
    login = User.objects.create_user(username="dana", email=contact.email)
    response = _change(admin_client, contact, user=login.pk)
    assert response.status_code == 302, response.content.decode()[:2000]
    contact.refresh_from_db()
    assert contact.user == login
    response = _change(admin_client, contact, user="")
    assert response.status_code == 302, response.content.decode()[:2000]
    contact.refresh_from_db()
    assert contact.user is None


@pytest.mark.django_db
def test_adding_keeps_the_time_zone(admin_client: Client) -> None:
    organisation = _org_with(0)
    response = admin_client.post(
        "/admin/customers/supportcontact/add/",
        {
            "organisation": organisation.pk,
            "name": "Erin",
            "email": "erin@x.example",
            "phone": "",
            "time_zone": "Europe/Paris",
            "user": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SupportContact.objects.get(name="Erin").time_zone == "Europe/Paris"


@pytest.mark.django_db
def test_moving_into_an_organisation_at_its_cap_is_refused_on_the_form(
    admin_client: Client,
) -> None:
    acme, full = _org_with(1), _org_with(6, name="Full Ltd")
    contact = SupportContact.objects.get(organisation=acme)
    before = SupportContact.objects.values().get(pk=contact.pk)
    response = _change(
        admin_client,
        contact,
        organisation=full.pk,
        name="Renamed",
        time_zone="Asia/Tokyo",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "includes 6 Support Contacts" in page
    assert "Full Ltd already has 6 active" in page
    # Nothing of the edit is applied, not even the fields the cap does not concern.
    assert SupportContact.objects.values().get(pk=contact.pk) == before
    assert SupportContact.objects.filter(organisation=full, is_active=True).count() == 6


@pytest.mark.django_db
def test_a_retired_contact_may_move_into_an_organisation_at_its_cap(
    admin_client: Client,
) -> None:
    acme, full = _org_with(1), _org_with(6)
    contact = SupportContact.objects.get(organisation=acme)
    services.support_contact_retire(contact=contact)
    response = _change(admin_client, contact, organisation=full.pk)
    assert response.status_code == 302, response.content.decode()[:2000]
    contact.refresh_from_db()
    assert contact.organisation == full
    assert not contact.is_active


@pytest.mark.django_db
def test_the_service_refuses_the_move_under_the_lock_and_changes_nothing() -> None:
    acme, full = _org_with(1), _org_with(6)
    contact = SupportContact.objects.get(organisation=acme)
    before = SupportContact.objects.values().get(pk=contact.pk)
    with pytest.raises(services.ContactCapError, match="includes 6 Support Contacts"):
        services.support_contact_update(
            contact=contact,
            organisation=full,
            name="Renamed",
            email=contact.email,
            phone="",
            time_zone="Asia/Tokyo",
        )
    assert SupportContact.objects.values().get(pk=contact.pk) == before
