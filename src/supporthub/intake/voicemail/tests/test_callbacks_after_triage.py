"""A callback that arrives after an agent handled the voicemail adds to it, never reopens it.

Twilio does not promise the order of its callbacks: the transcript can come first, an agent
match or dismiss the voicemail from triage, and the recording callback arrive afterwards
(or the other way round). One voicemail opens at most one ticket, and a dismissal stands.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from supporthub.intake.voicemail import callbacks, services
from supporthub.intake.voicemail.models import Voicemail, VoicemailState
from supporthub.intake.voicemail.tests.conftest import (
    B2B,
    BOB_PHONE,
    Twilio,
    recording_params,
    transcription_params,
)
from supporthub.intake.voicemail.tests.test_concurrency import _race
from supporthub.testing.world import World, viewer_of
from supporthub.tickets.models import AuditEntry, Message, MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db
UNKNOWN = "+14155550100"


def _transcript_first(twilio: Twilio, caller: str = BOB_PHONE) -> dict[str, str]:
    """The transcript arrives alone; returns the recording callback still to come."""
    recording = recording_params(From=caller, RecordingDuration="57")
    twilio.post("transcription", transcription_params(RecordingSid=recording["RecordingSid"]))
    assert Voicemail.objects.get().state == VoicemailState.AWAITING_RECORDING
    return recording


@pytest.mark.parametrize("caller", [BOB_PHONE, UNKNOWN])
def test_a_recording_after_an_agent_opened_the_ticket_is_added_to_it(
    twilio: Twilio, b2b: B2B, world: World, caller: str
) -> None:
    recording = _transcript_first(twilio, caller)
    waiting = Voicemail.objects.get()
    ticket = services.voicemail_open_ticket(
        voicemail=waiting, contact=b2b.bob, viewer=viewer_of(world.alice), note="Bob, surely"
    )
    matched = Voicemail.objects.get()
    assert twilio.post("recording", recording).status_code == 200
    assert twilio.post("recording", recording).status_code == 200  # retried: still nothing new

    assert Ticket.objects.count() == 1
    row = Voicemail.objects.get()
    assert row.ticket == ticket and row.state == VoicemailState.TICKETED
    assert row.contact == b2b.bob and row.reason == ""
    # The agent's clock stands: the ticket's received_at was taken from it.
    assert (row.recorded_at, row.clock_source) == (matched.recorded_at, matched.clock_source)
    assert row.handled_by == world.alice and row.note == "Bob, surely"
    # The recording is kept on the row and added to the ticket for the agents.
    assert row.recording_url == recording["RecordingUrl"] and row.recording_duration == 57
    notes = Message.objects.filter(ticket=ticket, kind=MessageKind.INTERNAL_NOTE).order_by("pk")
    late = notes.last()
    assert notes.count() == 2 and late is not None
    assert recording["RecordingUrl"] in late.body and "(57 s)" in late.body
    [audit] = AuditEntry.objects.filter(ticket=ticket, code="voicemail.recording_added")
    assert audit.data["recording_url"] == recording["RecordingUrl"]
    assert audit.data["duration"] == 57 and audit.data["added_to_ticket"] is True
    assert AuditEntry.objects.filter(code="voicemail.received").count() == 1
    ticket.refresh_from_db()
    assert ticket.received_at == matched.recorded_at


def test_a_recording_after_the_ticket_closed_stays_on_the_voicemail(
    twilio: Twilio, b2b: B2B, world: World
) -> None:
    recording = _transcript_first(twilio)
    services.voicemail_open_ticket(
        voicemail=Voicemail.objects.get(), contact=b2b.bob, viewer=viewer_of(world.alice)
    )
    Ticket.objects.update(status=Status.CLOSED)
    assert twilio.post("recording", recording).status_code == 200
    row = Voicemail.objects.get()
    assert row.recording_url == recording["RecordingUrl"]
    assert Ticket.objects.count() == 1
    assert Message.objects.filter(kind=MessageKind.INTERNAL_NOTE).count() == 1
    audit = AuditEntry.objects.get(code="voicemail.recording_added")
    assert audit.data["added_to_ticket"] is False


@pytest.mark.parametrize("caller", [BOB_PHONE, UNKNOWN])
def test_a_recording_after_an_agent_dismissed_the_voicemail_keeps_it_dismissed(
    twilio: Twilio, b2b: B2B, world: World, caller: str
) -> None:
    recording = _transcript_first(twilio, caller)
    services.voicemail_dismiss(
        voicemail=Voicemail.objects.get(), viewer=viewer_of(world.alice), note="Called back"
    )
    assert twilio.post("recording", recording).status_code == 200
    row = Voicemail.objects.get()
    assert row.state == VoicemailState.DISMISSED
    assert row.ticket is None and Ticket.objects.count() == 0
    assert row.note == "Called back" and row.handled_by == world.alice
    assert row.reason == "" and row.contact is None
    # The recording is kept with the voicemail, for the back office.
    assert row.recording_url == recording["RecordingUrl"] and row.recording_duration == 57
    assert row.raw_recording["RecordingSid"] == recording["RecordingSid"]
    assert not row.needs_triage


def test_a_transcript_after_an_agent_dismissed_the_voicemail_keeps_it_dismissed(
    twilio: Twilio, b2b: B2B, world: World
) -> None:
    recording = recording_params(From=UNKNOWN)
    twilio.post("recording", recording)
    services.voicemail_dismiss(
        voicemail=Voicemail.objects.get(), viewer=viewer_of(world.alice), note="Spam"
    )
    twilio.post("transcription", transcription_params(RecordingSid=recording["RecordingSid"]))
    row = Voicemail.objects.get()
    assert row.state == VoicemailState.DISMISSED and row.ticket is None
    assert row.transcript


def test_a_transcript_after_an_agent_opened_the_ticket_is_added_to_it_once(
    twilio: Twilio, b2b: B2B, world: World
) -> None:
    recording = recording_params(From=UNKNOWN)
    twilio.post("recording", recording)
    ticket = services.voicemail_open_ticket(
        voicemail=Voicemail.objects.get(), contact=b2b.bob, viewer=viewer_of(world.alice)
    )
    twilio.post("transcription", transcription_params(RecordingSid=recording["RecordingSid"]))
    assert Ticket.objects.count() == 1
    [reply] = Message.objects.filter(ticket=ticket, kind=MessageKind.PUBLIC_REPLY)
    assert "checkout shows an error" in reply.body
    assert Voicemail.objects.get().state == VoicemailState.TICKETED


@pytest.mark.django_db(transaction=True)
def test_an_agent_match_racing_the_recording_callback_opens_one_ticket(
    b2b: B2B, world: World
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: the race needs PostgreSQL's row locks")
    recording = callbacks.parse_recording(recording_params())
    transcript = callbacks.parse_transcription(
        transcription_params(RecordingSid=recording.recording_sid)
    )
    earlier = timezone.now() - timedelta(minutes=5)
    waiting = services.voicemail_transcribe(callback=transcript, received_at=earlier)
    alice = viewer_of(world.alice)

    def record() -> object:
        return services.voicemail_record(callback=recording, received_at=timezone.now())

    def match() -> object:
        return services.voicemail_open_ticket(voicemail=waiting, contact=b2b.bob, viewer=alice)

    errors = _race(record, match)
    # The agent may lose the race (the number matched first): told so, nothing opened twice.
    assert all("already has its ticket" in str(e) for e in errors), errors
    assert len(errors) <= 1
    assert Ticket.objects.count() == 1
    row = Voicemail.objects.get()
    assert row.ticket is not None and row.state == VoicemailState.TICKETED
    assert row.recording_url == recording.recording_url
