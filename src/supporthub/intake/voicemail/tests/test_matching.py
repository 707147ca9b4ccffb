"""Who called, whose policy decides, and when the clock starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from supporthub.customers import services as customers
from supporthub.intake.voicemail.models import Voicemail, VoicemailState
from supporthub.intake.voicemail.services import caller_e164
from supporthub.intake.voicemail.tests.conftest import B2B, Twilio, recording_params
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.testing import factories as f
from supporthub.testing.world import World
from supporthub.tickets.models import AuditEntry, Ticket

pytestmark = pytest.mark.django_db

# Tuesday 25 November 2025, 17:30 UTC: 09:30 in Los Angeles, the B2B phone line is open.
TUESDAY = datetime(2025, 11, 25, 17, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "caller", ["+12015550123", "+1 201-555-0123", "(201) 555-0123", "201.555.0123", "12015550123"]
)
def test_a_known_caller_in_national_or_international_form_is_matched_by_e164(
    twilio: Twilio, b2b: B2B, caller: str
) -> None:
    assert twilio.post("recording", recording_params(From=caller)).status_code == 200
    row = Voicemail.objects.get()
    assert row.caller_raw == caller
    assert row.caller_number == "+12015550123"
    assert row.contact == b2b.bob
    assert row.ticket is not None and row.ticket.requester == b2b.bob


def test_a_national_number_is_read_in_the_configured_region(settings: object) -> None:
    assert caller_e164("020 7946 0958") == ""  # not a valid US number
    settings.VOICEMAIL_DEFAULT_REGION = "GB"  # type: ignore[attr-defined]
    assert caller_e164("020 7946 0958") == "+442079460958"
    assert caller_e164("+1 201 555 0123") == "+12015550123"  # international form: any region


def test_an_unknown_caller_is_kept_for_triage_without_a_ticket(twilio: Twilio, b2b: B2B) -> None:
    twilio.post("recording", recording_params(From="+14155550100"))
    row = Voicemail.objects.get()
    assert row.state == VoicemailState.TRIAGE
    assert row.ticket is None and row.contact is None
    assert row.reason == "No Support Contact has the number +1 415-555-0100."
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize("caller", ["Anonymous", "", "+266696687"])
def test_a_withheld_number_is_kept_for_triage(twilio: Twilio, b2b: B2B, caller: str) -> None:
    twilio.post("recording", recording_params(From=caller))
    row = Voicemail.objects.get()
    assert row.state == VoicemailState.TRIAGE
    assert row.caller_number == ""
    assert "withheld or is not a phone number" in row.reason


def test_a_number_shared_by_two_contacts_goes_to_triage_naming_both(
    twilio: Twilio, b2b: B2B, world: World
) -> None:
    f.add_contact(world.other_organisation, "Bobby", phone="+12015550123")
    twilio.post("recording", recording_params())
    row = Voicemail.objects.get()
    assert row.state == VoicemailState.TRIAGE
    assert "Bob (Acme)" in row.reason and "Bobby (Globex)" in row.reason


def test_a_retired_contacts_number_goes_to_triage(twilio: Twilio, b2b: B2B) -> None:
    customers.support_contact_retire(contact=b2b.bob)
    twilio.post("recording", recording_params())
    row = Voicemail.objects.get()
    assert row.state == VoicemailState.TRIAGE
    assert "no longer an active Support Contact" in row.reason


def test_a_contact_whose_policy_takes_no_voicemail_is_kept_with_the_policys_message(
    twilio: Twilio, world: World
) -> None:
    # Initech is on the cloud policy: phone opens no requests there.
    customers.support_contact_update(
        contact=world.carol, name="Carol", email=world.carol.email, phone="+12125550123"
    )
    params = recording_params(From="+12125550123")
    with time_machine.travel(TUESDAY, tick=False):
        twilio.post("recording", params)
        twilio.post("recording", params)  # retried: still one mail
    row = Voicemail.objects.get()
    assert row.state == VoicemailState.TRIAGE
    assert row.contact == world.carol
    assert row.ticket is None
    assert row.reason.startswith("A request for Support Services must be submitted through")
    assert Ticket.objects.count() == 0
    # Carol is told why, in her zone (Initech's, New York), with the way to the Hub.
    [mail] = OutboxMessage.objects.filter(recipient=world.carol.email)
    assert mail.kind == OutboxKind.MAIL_AUTO_REPLY
    assert "Tuesday 25 November 2025, 12:30 EST" in mail.text_body
    assert row.reason in mail.text_body
    assert "https://support.example.com/hub/new/" in mail.text_body
    assert 'href="https://support.example.com/hub/new/"' in mail.html_body


def test_an_unknown_caller_is_told_nothing(twilio: Twilio, b2b: B2B) -> None:
    twilio.post("recording", recording_params(From="+14155550100"))
    assert not OutboxMessage.objects.exists()


def test_the_clock_starts_at_the_callbacks_receipt(twilio: Twilio, b2b: B2B) -> None:
    with time_machine.travel(TUESDAY, tick=False):
        twilio.post("recording", recording_params())
    row = Voicemail.objects.get()
    assert row.recorded_at == TUESDAY
    assert row.clock_source == "receipt"
    assert row.ticket is not None and row.ticket.received_at == TUESDAY


def test_twilios_signed_recording_start_time_starts_the_clock(twilio: Twilio, b2b: B2B) -> None:
    started = "Tue, 25 Nov 2025 17:28:00 +0000"
    with time_machine.travel(TUESDAY, tick=False):
        twilio.post("recording", recording_params(RecordingStartTime=started))
    row = Voicemail.objects.get()
    assert row.recorded_at == TUESDAY - timedelta(minutes=2)
    assert row.clock_source == "recording_start_time"
    assert row.ticket is not None and row.ticket.received_at == row.recorded_at
    audit = AuditEntry.objects.get(code="voicemail.received")
    assert audit.data["clock_source"] == "recording_start_time"


@pytest.mark.parametrize(
    "started",
    [
        "Tue, 25 Nov 2025 18:30:00 +0000",  # after receipt
        "Sat, 22 Nov 2025 17:28:00 +0000",  # days before receipt
        "not a date",
    ],
)
def test_an_unbelievable_recording_start_time_falls_back_to_receipt(
    twilio: Twilio, b2b: B2B, started: str
) -> None:
    with time_machine.travel(TUESDAY, tick=False):
        twilio.post("recording", recording_params(RecordingStartTime=started))
    row = Voicemail.objects.get()
    assert row.recorded_at == TUESDAY
    assert row.clock_source == "receipt"


def test_a_recording_twilio_reports_as_failed_is_kept_for_triage(twilio: Twilio, b2b: B2B) -> None:
    twilio.post("recording", recording_params(RecordingStatus="failed"))
    row = Voicemail.objects.get()
    assert row.state == VoicemailState.TRIAGE
    assert row.contact == b2b.bob
    assert row.reason == "Twilio reports the recording as failed."
