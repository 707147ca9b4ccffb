"""Set-up shared by the console tests: logged-in clients, tickets at known instants."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.test import Client

from supporthub.customers.models import Organisation, SupportContact
from supporthub.staff.models import StaffMember
from supporthub.testing.tickets import open_ticket as testing_open_ticket
from supporthub.tickets.models import Channel, Ticket

# A Wednesday afternoon: Initech (Base, New York) is inside its 08:00-18:00 hours.
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
ROW = re.compile(r'<tr data-ticket="(SH-\d+)"')


def client_for(person: StaffMember | SupportContact) -> Client:
    assert isinstance(person.user, User)
    client = Client()
    client.force_login(person.user)
    return client


def open_ticket(
    organisation: Organisation,
    requester: SupportContact | None,
    *,
    severity: int = 3,
    ago: timedelta = timedelta(0),
    subject: str = "Cluster is red",
) -> Ticket:
    return testing_open_ticket(
        organisation=organisation,
        requester=requester,
        subject=subject,
        body="Since the upgrade.",
        severity=severity,
        channel=Channel.HUB,
        received_at=NOW - ago,
    )


def rows(html: bytes) -> list[str]:
    """The ticket references of a queue page's rows, top to bottom."""
    return ROW.findall(html.decode())
