"""Routing through each real entry point: the Hub's form, the REST API and inbound mail all
open through ticket_decide, so a covered case goes to the DSE the same way on each."""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from supporthub.api.services import api_token_create
from supporthub.api.tests.conftest import Api
from supporthub.console.tests.helpers import client_for
from supporthub.dse.tests.test_routing import TUESDAY_0900_LA
from supporthub.dse.tests.world import DseWorld
from supporthub.intake.email.tests.mailtools import eml, store
from supporthub.intake.email.ticketing import mail_to_ticket
from supporthub.tickets.models import AuditEntry, Channel, Ticket

NIGHT = "2026-12-09T06:00:00Z"  # 22:00 in Los Angeles


def _routed(ticket: Ticket) -> tuple[str, str]:
    entry = AuditEntry.objects.get(ticket=ticket, code__startswith="dse.")
    return entry.code, entry.data["reason"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("at", "expected"), [(TUESDAY_0900_LA, "dse.assigned"), (NIGHT, "dse.overflow")]
)
def test_the_hub_form(dse: DseWorld, at: datetime | str, expected: str) -> None:
    with time_machine.travel(at, tick=False):
        answer = client_for(dse.world.olga).post(
            reverse("portal:new"),
            {
                "subject": "Cluster red",
                "body": "All shards unassigned.",
                "severity": "1",
                "type": "incident",
            },
        )
    assert answer.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.HUB and _routed(ticket)[0] == expected
    assert (ticket.assignee == dse.dora) is (expected == "dse.assigned")


@pytest.mark.django_db
def test_the_api(dse: DseWorld) -> None:
    _, token = api_token_create(name="Globex CRM", organisation=dse.world.other_organisation)
    with time_machine.travel(TUESDAY_0900_LA, tick=False):
        answer = Api(Client(), token).post(
            "/api/tickets",
            {
                "subject": "Reindex failed",
                "body": "...",
                "severity": 3,
                "requester_email": dse.world.olga.email,
            },
        )
    assert answer.status_code == 201, answer.json()
    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.API and ticket.assignee == dse.dora
    assert _routed(ticket) == ("dse.assigned", "available")


@pytest.mark.django_db
def test_inbound_mail(dse: DseWorld, settings: object) -> None:
    settings.INBOUND_MAIL_TRUST_FROM = True  # type: ignore[attr-defined]
    inbound = store(
        eml(sender=dse.world.olga.email, subject="Snapshots slow"), received_at=TUESDAY_0900_LA
    )
    mail_to_ticket(inbound=inbound)
    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.EMAIL and ticket.assignee == dse.dora
    night = store(
        eml(sender=dse.world.olga.email, subject="Still slow", message_id="<m2@mail.example>"),
        received_at=TUESDAY_0900_LA.replace(hour=6, day=9),
    )
    mail_to_ticket(inbound=night)
    second = Ticket.objects.exclude(pk=ticket.pk).get()
    assert second.assignee is None
    assert _routed(second) == ("dse.overflow", "outside_available_hours")
