"""Shared set-up for the Support Hub tests: logged-in clients and tickets."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from supporthub.customers.models import Organisation, OrganisationMember, SupportContact
from supporthub.customers.services import support_contact_retire
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket as testing_open_ticket
from supporthub.tickets.models import Channel, Ticket

PASSWORD = "pw-for-tests"


def client_for(user: object) -> Client:
    assert isinstance(user, User)
    client = Client()
    client.force_login(user)
    return client


def open_ticket(
    organisation: Organisation,
    requester: SupportContact | None,
    subject: str = "Cluster is red",
    severity: int = 2,
) -> Ticket:
    return testing_open_ticket(
        organisation=organisation,
        requester=requester,
        subject=subject,
        body="Since the upgrade.",
        severity=severity,
        channel=Channel.HUB,
    )


def member_of(organisation: Organisation, username: str = "mo") -> OrganisationMember:
    """A read-only Hub login of the organisation (not a Support Contact)."""
    return OrganisationMember.objects.create(
        organisation=organisation,
        user=User.objects.create_user(username, password=PASSWORD),
        name=username.title(),
    )


def retired_contact_of(organisation: Organisation, username: str = "rita") -> SupportContact:
    contact = f.add_contact(
        organisation, username.title(), user=User.objects.create_user(username, password=PASSWORD)
    )
    return support_contact_retire(contact=contact)
