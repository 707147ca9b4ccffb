"""Opening an incident in the Support Hub: who may, what the form offers, what it creates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from django.utils.html import escape

from supporthub.customers.models import Subscription, SupportContact
from supporthub.customers.selectors import entitlement_on, local_date
from supporthub.sla import clocks
from supporthub.sla.calendars import calendar_for
from supporthub.testing.world import World
from supporthub.tickets import conversation, opening
from supporthub.tickets.models import Attachment, AuditEntry, Channel, Ticket, TicketType

from .helpers import client_for, member_of, retired_contact_of

# Monday 3 March 2025, 10:00 in New York (Initech's zone): inside Base business hours.
MONDAY_10_NEW_YORK = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)


def _incident(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "subject": "Production cluster unreachable",
        "body": "All nodes time out since 09:12.",
        "severity": "1",
        "type": TicketType.INCIDENT,
    }
    data.update(overrides)
    return data


def _sla_due(world: World, severity: int, at: datetime) -> datetime:
    """The due instant computed directly with the sla functions, as ticket_open does."""
    organisation = world.organisation
    entitlement = entitlement_on(organisation=organisation, on=local_date(organisation, at))
    assert entitlement is not None
    level = entitlement.support_level
    target = level.targets[severity]
    assert target is not None
    calendar = calendar_for(
        organisation=organisation, policy=entitlement.policy, support_level=level
    )
    return clocks.due_at(calendar, target, at)


@pytest.mark.django_db
def test_contact_opens_severity_1_with_files_and_sees_due_time_in_her_own_zone(
    world: World,
) -> None:
    SupportContact.objects.filter(pk=world.carol.pk).update(time_zone="Asia/Tokyo")
    client = client_for(world.carol.user)
    files = [
        SimpleUploadedFile("cluster-health.json", b'{"status": "red"}', "application/json"),
        SimpleUploadedFile("node-1.log", b"timeout\n", "text/plain"),
    ]
    with time_machine.travel(MONDAY_10_NEW_YORK, tick=False):
        response = client.post("/hub/new/", _incident(attachments=files), follow=True)

    ticket = Ticket.objects.get()
    assert response.redirect_chain == [(f"/hub/tickets/{ticket.pk}/", 302)]
    assert (ticket.channel, ticket.severity, ticket.type) == (Channel.HUB, 1, "incident")
    assert ticket.requester == world.carol
    assert ticket.received_at == MONDAY_10_NEW_YORK
    # Base, Severity 1: 4 business hours from Monday 10:00 New York is 14:00 there.
    assert ticket.first_response_due_at == _sla_due(world, 1, MONDAY_10_NEW_YORK)
    assert ticket.first_response_due_at == datetime(2025, 3, 3, 19, 0, tzinfo=UTC)
    assert sorted(a.filename for a in ticket.attachments.all()) == [
        "cluster-health.json",
        "node-1.log",
    ]
    assert AuditEntry.objects.get(ticket=ticket, code="ticket.opened").actor == world.carol.user
    # In Tokyo, 19:00 UTC is 04:00 the next morning.
    page = response.content.decode()
    assert f"{ticket.reference} opened; first response due Tue 04 Mar 2025, 04:00 JST" in page
    due = page.split('data-testid="due-at"', 1)[1].split("</p>", 1)[0]
    assert "Tue 04 Mar 2025, 04:00" in due and "JST" in due
    assert "Asia/Tokyo" in page


@pytest.mark.django_db
def test_form_shows_each_severity_with_its_policy_description_and_target(world: World) -> None:
    response = client_for(world.carol.user).get("/hub/new/")
    assert response.status_code == 200
    page = response.content.decode()
    entitlement = entitlement_on(
        organisation=world.organisation, on=local_date(world.organisation, timezone.now())
    )
    assert entitlement is not None
    for severity in entitlement.policy.severities:
        assert f'name="severity" value="{severity.level}"' in page
        assert escape(severity.name) in page
        assert escape(severity.description) in page
    # Initech is Gold -> Base: its own targets, its hours of operation.
    for target in ("4 business hours", "1 business day", "2 business days"):
        assert f"<strong>{target}</strong>" in page
    assert escape(entitlement.support_level.hours.describe()) in page
    assert "Base" in page and "America/New_York" in page
    for label in ("Incident", "Question", "Enhancement request", "Training request"):
        assert f">{label}</option>" in page
    assert 'type="file" name="attachments"' in page and "multiple" in page
    assert "Submit incident" in page


@pytest.mark.django_db
def test_another_support_level_shows_its_own_targets(world: World) -> None:
    page = client_for(world.olga.user).get("/hub/new/").content.decode()  # Platinum -> Enhanced
    assert "<strong>1 hour</strong>" in page and "<strong>4 hours</strong>" in page
    assert "4 business hours" not in page
    assert "24 x 7 x 365" in page


@pytest.mark.django_db
def test_due_preview_is_the_sla_computation_for_the_chosen_severity(world: World) -> None:
    client = client_for(world.carol.user)
    with time_machine.travel(MONDAY_10_NEW_YORK, tick=False):
        page = client.get("/hub/new/due/", {"severity": "2"}).content.decode()
        initial = client.get("/hub/new/").content.decode()
    # Severity 2 at Base: 1 business day (10 business hours) -> Tuesday 10:00 New York.
    assert _sla_due(world, 2, MONDAY_10_NEW_YORK) == datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    assert "Tue 04 Mar 2025, 10:00" in page and "EST" in page
    assert "1 business day" in page
    # The page opens on the policy's default severity (3: 2 business days -> Wednesday 10:00).
    assert 'value="3" checked' in initial
    assert "Wed 05 Mar 2025, 10:00" in initial
    # The radios ask for the fragment on change.
    assert 'hx-get="/hub/new/due/"' in initial


@pytest.mark.django_db
def test_member_sees_why_and_gets_no_form_and_their_post_is_refused(world: World) -> None:
    member = member_of(world.organisation)
    client = client_for(member.user)
    page = client.get("/hub/new/")
    assert page.status_code == 200
    assert escape(f"Only the named Support Contacts of {world.organisation.name}") in (
        page.content.decode()
    )
    assert 'name="severity"' not in page.content.decode()
    assert "Submit incident" not in page.content.decode()

    refused = client.post("/hub/new/", _incident())
    assert refused.status_code == 403
    assert "Support Contacts" in refused.content.decode()
    assert not Ticket.objects.exists()
    assert client.get("/hub/new/due/", {"severity": "1"}).status_code == 403


@pytest.mark.django_db
def test_retired_contact_sees_why_and_their_post_is_refused(world: World) -> None:
    retired = retired_contact_of(world.organisation)
    client = client_for(retired.user)
    page = client.get("/hub/new/").content.decode()
    assert "no longer a Support Contact" in page
    assert 'name="severity"' not in page
    assert client.post("/hub/new/", _incident()).status_code == 403
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_file_over_the_limit_is_named_and_nothing_is_created(world: World) -> None:
    client = client_for(world.carol.user)
    files = [
        SimpleUploadedFile("small.txt", b"ok", "text/plain"),
        SimpleUploadedFile("heap-dump.hprof", b"x" * 4096, "application/octet-stream"),
    ]
    with override_settings(ATTACHMENT_MAX_BYTES=1024):
        response = client.post("/hub/new/", _incident(attachments=files))
    assert response.status_code == 400
    page = response.content.decode()
    assert "heap-dump.hprof is 4.0 KB; the limit is 1.0 KB." in page
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()
    # What was typed is kept.
    assert 'value="Production cluster unreachable"' in page


@pytest.mark.django_db
def test_a_file_refused_by_the_service_rolls_back_the_ticket(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ticket and files are one transaction: the second file failing leaves no ticket."""
    real = conversation.attachment_add
    calls: list[str] = []

    def second_fails(**kwargs: Any) -> Attachment:
        calls.append(kwargs["upload"].name)
        if len(calls) == 2:
            raise ValidationError({"file": f"{kwargs['upload'].name} could not be stored."})
        return real(**kwargs)

    monkeypatch.setattr(conversation, "attachment_add", second_fails)
    files = [
        SimpleUploadedFile("one.txt", b"1", "text/plain"),
        SimpleUploadedFile("two.txt", b"2", "text/plain"),
    ]
    response = client_for(world.carol.user).post("/hub/new/", _incident(attachments=files))
    assert calls == ["one.txt", "two.txt"]
    assert response.status_code == 400
    assert "two.txt could not be stored." in response.content.decode()
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_missing_fields_and_a_severity_the_hub_does_not_offer_are_named(world: World) -> None:
    client = client_for(world.carol.user)
    response = client.post("/hub/new/", _incident(subject="  ", body="", severity="4"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Write a subject." in page
    assert "Describe the incident." in page
    assert "Choose one of the severities listed" in page
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_service_refusal_lands_on_the_form(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ValidationError from ticket_open (here: the channel rule) is shown on its field."""

    def refuse(**kwargs: Any) -> Ticket:
        raise ValidationError({"severity": "Severity 1 cannot be opened through the Hub."})

    monkeypatch.setattr(opening, "ticket_open", refuse)
    response = client_for(world.carol.user).post("/hub/new/", _incident())
    assert response.status_code == 400
    assert "Severity 1 cannot be opened through the Hub." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("subject", ["Cluster down\r\nBcc: all@example.com", "Down\u2028again"])
def test_a_subject_of_more_than_one_line_is_refused_on_its_field(
    world: World, subject: str
) -> None:
    """A subject becomes a mail's Subject header: a crafted post with a line break in it is
    refused on the field, as the API refuses it, and opens nothing."""
    response = client_for(world.carol.user).post("/hub/new/", _incident(subject=subject))
    assert response.status_code == 400
    assert "Write the subject on one line." in response.content.decode()
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_no_subscription_in_force_says_so_and_shows_no_form(world: World) -> None:
    Subscription.objects.filter(organisation=world.organisation).update(term_end=date(2025, 1, 31))
    client = client_for(world.carol.user)
    with time_machine.travel(MONDAY_10_NEW_YORK, tick=False):
        page = client.get("/hub/new/").content.decode()
        refused = client.post("/hub/new/", _incident())
    assert "No subscription in force" in page
    assert 'name="severity"' not in page
    assert refused.status_code == 409
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_anonymous_is_sent_to_log_in_and_staff_are_refused(world: World) -> None:
    from django.test import Client

    anonymous = Client().get("/hub/new/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert client_for(world.alice.user).get("/hub/new/").status_code == 403
