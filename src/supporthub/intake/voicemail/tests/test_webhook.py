"""The Twilio webhook: signatures, answers, missing fields, retries and callback order."""

from __future__ import annotations

from typing import Any

import pytest
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from supporthub.intake.voicemail.models import TranscriptionStatus, Voicemail, VoicemailState
from supporthub.intake.voicemail.tests.conftest import (
    B2B,
    PUBLIC,
    TOKEN,
    Twilio,
    recording_params,
    sid,
    transcription_params,
)
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.tickets.models import (
    AuditEntry,
    Channel,
    Message,
    MessageKind,
    Status,
    Ticket,
)

pytestmark = pytest.mark.django_db


def _nothing_stored() -> None:
    assert Voicemail.objects.count() == 0
    assert Ticket.objects.count() == 0


def test_a_known_callers_voicemail_opens_one_ticket_and_answers_empty_twiml(
    twilio: Twilio, b2b: B2B
) -> None:
    params = recording_params()
    response = twilio.post("recording", params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode().endswith("<Response/>")
    row = Voicemail.objects.get()
    assert row.state == VoicemailState.TICKETED
    assert row.contact == b2b.bob
    assert row.caller_number == "+12015550123"
    assert row.raw_recording["RecordingSid"] == params["RecordingSid"]
    ticket = row.ticket
    assert ticket is not None
    assert ticket.requester == b2b.bob
    assert ticket.organisation == b2b.organisation
    assert ticket.channel == Channel.VOICEMAIL
    assert ticket.severity == 3  # the B2B policy's default_severity (MEDIUM)
    assert "0:42 long" in ticket.body
    note = Message.objects.get(ticket=ticket, kind=MessageKind.INTERNAL_NOTE)
    assert params["RecordingUrl"] in note.body
    audit = AuditEntry.objects.get(ticket=ticket, code="voicemail.received")
    assert audit.data["recording_sid"] == params["RecordingSid"]
    assert audit.data["channel"] == "voicemail"
    # The caller gets the usual acknowledgement with the reference.
    [ack] = OutboxMessage.objects.filter(ticket=ticket)
    assert (ack.kind, ack.recipient) == (OutboxKind.ACKNOWLEDGED, b2b.bob.email)


def test_a_bad_signature_gets_403_and_stores_nothing(twilio: Twilio, b2b: B2B) -> None:
    params = recording_params()
    path = "/intake/voicemail/recording/"
    wrong_key = twilio.signature(path, params, token="not-the-token")
    assert twilio.post("recording", params, signature=wrong_key).status_code == 403
    # Signed for other parameters (a tampered From): refused too.
    signed = twilio.signature(path, params)
    tampered = {**params, "From": "+14155550100"}
    assert twilio.post("recording", tampered, signature=signed).status_code == 403
    _nothing_stored()


def test_a_missing_signature_gets_403_and_stores_nothing(twilio: Twilio, b2b: B2B) -> None:
    response = twilio.post("transcription", transcription_params(), signature="")
    assert response.status_code == 403
    assert b"X-Twilio-Signature" in response.content
    _nothing_stored()


def test_the_signature_is_checked_against_the_public_url_not_the_internal_host(
    twilio: Twilio, b2b: B2B
) -> None:
    params = recording_params()
    internal = RequestValidator(TOKEN).compute_signature(
        "http://testserver/intake/voicemail/recording/", params
    )
    assert twilio.post("recording", params, signature=internal).status_code == 403
    assert PUBLIC.startswith("https://support.example.com")
    assert twilio.post("recording", params).status_code == 200


def test_a_sha256_shared_key_signature_is_accepted(twilio: Twilio, b2b: B2B) -> None:
    params = recording_params()
    signature = RequestValidator(TOKEN).compute_signature(
        PUBLIC + "/intake/voicemail/recording/", params, "HMAC_SHA256"
    )
    headers = {"X-Twilio-Webhooks-Signature-Settings": "key=k1,algorithm=HMAC_SHA256"}
    response = twilio.post("recording", params, signature=signature, headers=headers)
    assert response.status_code == 200
    assert Voicemail.objects.get().ticket is not None


def test_without_an_auth_token_the_webhook_answers_503_and_stores_nothing(
    twilio: Twilio, b2b: B2B, settings: Any
) -> None:
    settings.TWILIO_AUTH_TOKEN = ""
    response = twilio.post("recording", recording_params(), signature="anything")
    assert response.status_code == 503
    assert b"voicemail is not configured" in response.content
    _nothing_stored()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("RecordingSid", None, "RecordingSid: this parameter is required"),
        ("From", None, "From: this parameter is required"),
        ("CallSid", None, "CallSid: this parameter is required"),
        ("RecordingUrl", None, "RecordingUrl: this parameter is required"),
        ("RecordingDuration", None, "RecordingDuration: this parameter is required"),
        ("RecordingDuration", "forty", "RecordingDuration: 'forty' is not a whole number"),
        ("RecordingUrl", "ftp://x/y", "RecordingUrl: 'ftp://x/y' is not an http(s) URL"),
        ("RecordingSid", "RE123", "RecordingSid: 'RE123' is not a Twilio SID"),
    ],
)
def test_a_missing_or_invalid_recording_field_gets_400_naming_it(
    twilio: Twilio, b2b: B2B, field: str, value: str | None, says: str
) -> None:
    params = recording_params()
    if value is None:
        del params[field]
    else:
        params[field] = value
    response = twilio.post("recording", params)
    assert response.status_code == 400
    assert says in response.content.decode()
    _nothing_stored()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("RecordingSid", None, "RecordingSid: this parameter is required"),
        ("TranscriptionStatus", None, "TranscriptionStatus: this parameter is required"),
        ("TranscriptionStatus", "maybe", "TranscriptionStatus: 'maybe' is not one of"),
        ("TranscriptionText", None, "TranscriptionText: this parameter is required"),
    ],
)
def test_a_missing_or_invalid_transcription_field_gets_400_naming_it(
    twilio: Twilio, b2b: B2B, field: str, value: str | None, says: str
) -> None:
    params = transcription_params()
    if value is None:
        del params[field]
    else:
        params[field] = value
    response = twilio.post("transcription", params)
    assert response.status_code == 400
    assert says in response.content.decode()
    _nothing_stored()


def test_only_post_is_accepted(twilio: Twilio) -> None:
    assert twilio.client.get("/intake/voicemail/recording/").status_code == 405


def test_a_retried_recording_callback_opens_no_second_ticket(twilio: Twilio, b2b: B2B) -> None:
    params = recording_params()
    assert twilio.post("recording", params).status_code == 200
    assert twilio.post("recording", params).status_code == 200
    # Even a retry that differs (Twilio resends with the same RecordingSid) changes nothing.
    assert twilio.post("recording", {**params, "RecordingDuration": "43"}).status_code == 200
    row = Voicemail.objects.get()
    assert row.recording_duration == 42
    assert Ticket.objects.count() == 1
    assert AuditEntry.objects.filter(code="voicemail.received").count() == 1


def test_a_transcript_after_the_recording_is_added_to_the_ticket_once(
    twilio: Twilio, b2b: B2B
) -> None:
    recording = recording_params()
    twilio.post("recording", recording)
    transcript = transcription_params(
        RecordingSid=recording["RecordingSid"], CallSid=recording["CallSid"]
    )
    assert twilio.post("transcription", transcript).status_code == 200
    assert twilio.post("transcription", transcript).status_code == 200  # retried
    row = Voicemail.objects.get()
    assert row.transcription_status == TranscriptionStatus.COMPLETED
    assert row.transcript == transcript["TranscriptionText"]
    ticket = row.ticket
    assert ticket is not None
    [message] = Message.objects.filter(ticket=ticket, kind=MessageKind.PUBLIC_REPLY)
    assert transcript["TranscriptionText"] in message.body
    assert message.author_contact == b2b.bob
    [audit] = AuditEntry.objects.filter(ticket=ticket, code="voicemail.transcribed")
    assert audit.data["added_to_ticket"] is True


def test_a_transcript_before_the_recording_is_kept_and_goes_into_the_ticket(
    twilio: Twilio, b2b: B2B
) -> None:
    recording = recording_params()
    transcript = transcription_params(RecordingSid=recording["RecordingSid"])
    assert twilio.post("transcription", transcript).status_code == 200
    waiting = Voicemail.objects.get()
    assert waiting.state == VoicemailState.AWAITING_RECORDING
    assert waiting.ticket is None
    assert waiting.caller_number == "+12015550123"
    assert twilio.post("recording", recording).status_code == 200
    row = Voicemail.objects.get()
    assert row.state == VoicemailState.TICKETED
    assert row.ticket is not None
    assert transcript["TranscriptionText"] in row.ticket.body
    # In the description already: not added again as a message.
    assert not Message.objects.filter(ticket=row.ticket, kind=MessageKind.PUBLIC_REPLY).exists()
    assert AuditEntry.objects.filter(ticket=row.ticket, code="voicemail.transcribed").exists()


def test_a_failed_transcription_is_recorded_and_adds_no_message(twilio: Twilio, b2b: B2B) -> None:
    recording = recording_params()
    twilio.post("recording", recording)
    params = transcription_params(RecordingSid=recording["RecordingSid"])
    params["TranscriptionStatus"] = "failed"
    del params["TranscriptionText"]
    assert twilio.post("transcription", params).status_code == 200
    row = Voicemail.objects.get()
    assert row.transcription_status == TranscriptionStatus.FAILED
    assert row.ticket is not None
    assert not Message.objects.filter(ticket=row.ticket, kind=MessageKind.PUBLIC_REPLY).exists()
    assert AuditEntry.objects.filter(
        ticket=row.ticket, code="voicemail.transcription_failed"
    ).exists()


def test_a_second_voicemail_of_the_same_call_is_its_own_ticket(twilio: Twilio, b2b: B2B) -> None:
    call = sid("CA")
    twilio.post("recording", recording_params(CallSid=call))
    twilio.post("recording", recording_params(CallSid=call))
    assert Ticket.objects.count() == 2


def test_a_transcript_for_a_closed_ticket_stays_on_the_voicemail(twilio: Twilio, b2b: B2B) -> None:
    recording = recording_params()
    twilio.post("recording", recording)
    Ticket.objects.update(status=Status.CLOSED)
    transcript = transcription_params(RecordingSid=recording["RecordingSid"])
    assert twilio.post("transcription", transcript).status_code == 200
    row = Voicemail.objects.get()
    assert row.transcript == transcript["TranscriptionText"]
    assert not Message.objects.filter(kind=MessageKind.PUBLIC_REPLY).exists()
    audit = AuditEntry.objects.get(code="voicemail.transcribed")
    assert audit.data["added_to_ticket"] is False
