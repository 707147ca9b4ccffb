"""The console's voicemail triage: agents match unknown callers or dismiss; customers cannot."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from supporthub.intake.voicemail import selectors, services
from supporthub.intake.voicemail.models import Voicemail, VoicemailState
from supporthub.intake.voicemail.tests.conftest import (
    B2B,
    Twilio,
    recording_params,
    transcription_params,
)
from supporthub.testing.world import World, viewer_of
from supporthub.tickets.models import AuditEntry, Channel, Ticket

pytestmark = pytest.mark.django_db
UNKNOWN = "+14155550100"


def _unknown_voicemail(twilio: Twilio, *, transcript: bool = True) -> Voicemail:
    recording = recording_params(From=UNKNOWN)
    twilio.post("recording", recording)
    if transcript:
        twilio.post(
            "transcription",
            transcription_params(
                RecordingSid=recording["RecordingSid"],
                From=UNKNOWN,
                TranscriptionText="Bob here from my mobile, our checkout is down.",
            ),
        )
    return Voicemail.objects.get()


def _unknown_voicemail_of(twilio: Twilio, caller: str) -> Voicemail:
    recording = recording_params(From=caller)
    twilio.post("recording", recording)
    return Voicemail.objects.get(recording_sid=recording["RecordingSid"])


def _user(username: str) -> User:
    return User.objects.get(username=username)


def test_the_triage_page_lists_unknown_callers_with_reason_and_transcript(
    twilio: Twilio, b2b: B2B, world: World, client: Client
) -> None:
    _unknown_voicemail(twilio)
    client.force_login(_user("alice"))
    response = client.get(reverse("console:voicemail_triage"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "+1 415-555-0100" in page
    assert "No Support Contact has the number +1 415-555-0100." in page
    assert "our checkout is down" in page


def test_an_agent_opens_the_ticket_from_triage_for_the_contact_they_pick(
    twilio: Twilio, b2b: B2B, world: World, client: Client
) -> None:
    voicemail = _unknown_voicemail(twilio)
    client.force_login(_user("alice"))
    response = client.post(
        reverse("console:voicemail_match", args=[voicemail.pk]),
        {f"vm{voicemail.pk}-email": b2b.bob.email, f"vm{voicemail.pk}-note": "His mobile"},
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("console:ticket", args=[ticket.pk])
    assert ticket.requester == b2b.bob
    assert ticket.channel == Channel.VOICEMAIL
    assert ticket.received_at == voicemail.recorded_at  # the clock starts at the voicemail
    assert "our checkout is down" in ticket.body
    voicemail.refresh_from_db()
    assert voicemail.state == VoicemailState.TICKETED
    assert voicemail.ticket == ticket
    assert voicemail.handled_by == world.alice
    matched = AuditEntry.objects.get(ticket=ticket, code="voicemail.matched")
    assert matched.actor == world.alice.user
    assert matched.data["note"] == "His mobile"
    assert matched.data["triage_reason"].startswith("No Support Contact has the number")
    # Gone from triage, listed as handled.
    page = client.get(reverse("console:voicemail_triage")).content.decode()
    assert "No voicemail is waiting" in page
    assert ticket.reference in page


def test_matching_to_a_contact_whose_policy_refuses_voicemail_opens_nothing(
    twilio: Twilio, b2b: B2B, world: World, client: Client
) -> None:
    voicemail = _unknown_voicemail(twilio)
    client.force_login(_user("alice"))
    response = client.post(
        reverse("console:voicemail_match", args=[voicemail.pk]),
        {f"vm{voicemail.pk}-email": world.carol.email},
    )
    assert response.status_code == 400
    assert "A request for Support Services must be submitted" in response.content.decode()
    assert Ticket.objects.count() == 0
    voicemail.refresh_from_db()
    assert voicemail.state == VoicemailState.TRIAGE


def test_an_unknown_email_is_refused_beside_the_field(
    twilio: Twilio, b2b: B2B, world: World, client: Client
) -> None:
    voicemail = _unknown_voicemail(twilio, transcript=False)
    client.force_login(_user("alice"))
    response = client.post(
        reverse("console:voicemail_match", args=[voicemail.pk]),
        {f"vm{voicemail.pk}-email": "nobody@example.com"},
    )
    assert response.status_code == 400
    assert "No active Support Contact has the email nobody@example.com." in (
        response.content.decode()
    )
    assert Ticket.objects.count() == 0


def test_an_agent_dismisses_a_voicemail_with_a_note(
    twilio: Twilio, b2b: B2B, world: World, client: Client
) -> None:
    voicemail = _unknown_voicemail(twilio, transcript=False)
    client.force_login(_user("alice"))
    url = reverse("console:voicemail_dismiss", args=[voicemail.pk])
    assert client.post(url, {f"vm{voicemail.pk}-note": ""}).status_code == 400
    response = client.post(url, {f"vm{voicemail.pk}-note": "Wrong number"})
    assert response.status_code == 302
    voicemail.refresh_from_db()
    assert voicemail.state == VoicemailState.DISMISSED
    assert voicemail.note == "Wrong number"
    assert Ticket.objects.count() == 0


def test_a_contact_cannot_see_or_use_the_triage_page(
    twilio: Twilio, b2b: B2B, world: World, client: Client
) -> None:
    voicemail = _unknown_voicemail(twilio, transcript=False)
    client.force_login(_user("bob"))
    assert client.get(reverse("console:voicemail_triage")).status_code == 403
    response = client.post(
        reverse("console:voicemail_match", args=[voicemail.pk]),
        {f"vm{voicemail.pk}-email": b2b.bob.email},
    )
    assert response.status_code == 403
    assert Ticket.objects.count() == 0
    client.logout()
    assert client.get(reverse("console:voicemail_triage")).status_code == 302  # to log in


def test_staff_who_see_only_their_organisations_cannot_see_or_use_triage(
    twilio: Twilio, b2b: B2B, world: World, client: Client
) -> None:
    # Amy manages Initech only: an unknown caller's voicemail may be any organisation's.
    matched = _unknown_voicemail(twilio)
    dismissed = _unknown_voicemail_of(twilio, "+14155550111")
    client.force_login(_user("amy"))
    assert client.get(reverse("console:voicemail_triage")).status_code == 403
    response = client.post(
        reverse("console:voicemail_match", args=[matched.pk]),
        {f"vm{matched.pk}-email": b2b.bob.email, f"vm{matched.pk}-note": "His mobile"},
    )
    assert response.status_code == 403
    response = client.post(
        reverse("console:voicemail_dismiss", args=[dismissed.pk]),
        {f"vm{dismissed.pk}-note": "Wrong number"},
    )
    assert response.status_code == 403
    assert Ticket.objects.count() == 0
    for row in Voicemail.objects.all():
        assert row.state == VoicemailState.TRIAGE
        assert row.handled_by is None and row.handled_at is None and row.note == ""
    # No link to a page she cannot open; her queues still load.
    page = client.get(reverse("console:queue")).content.decode()
    assert reverse("console:voicemail_triage") not in page
    # A support engineer still triages, and sees the link.
    client.force_login(_user("alice"))
    page = client.get(reverse("console:queue")).content.decode()
    assert reverse("console:voicemail_triage") in page
    assert client.get(reverse("console:voicemail_triage")).status_code == 200
    response = client.post(
        reverse("console:voicemail_dismiss", args=[dismissed.pk]),
        {f"vm{dismissed.pk}-note": "Wrong number"},
    )
    assert response.status_code == 302


def test_the_triage_services_refuse_staff_who_see_only_their_organisations(
    twilio: Twilio, b2b: B2B, world: World
) -> None:
    voicemail = _unknown_voicemail(twilio)
    amy = viewer_of(world.amy)
    with pytest.raises(PermissionDenied):
        services.voicemail_open_ticket(voicemail=voicemail, contact=b2b.bob, viewer=amy)
    with pytest.raises(PermissionDenied):
        services.voicemail_dismiss(voicemail=voicemail, viewer=amy, note="Wrong number")
    assert list(selectors.triage_queue(viewer=amy)) == []
    assert selectors.recently_handled(viewer=amy) == []
    voicemail.refresh_from_db()
    assert voicemail.state == VoicemailState.TRIAGE and Ticket.objects.count() == 0
    # The CS lead sees every ticket: she triages.
    lee = viewer_of(world.lee)
    assert list(selectors.triage_queue(viewer=lee)) == [voicemail]
    ticket = services.voicemail_open_ticket(voicemail=voicemail, contact=b2b.bob, viewer=lee)
    assert ticket.requester == b2b.bob
    assert selectors.recently_handled(viewer=lee) == [voicemail]
