"""Twilio retries and sends both callbacks close together: racing callbacks open one ticket."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections
from django.utils import timezone

from supporthub.intake.voicemail import callbacks, services
from supporthub.intake.voicemail.models import Voicemail, VoicemailState
from supporthub.intake.voicemail.tests.conftest import (
    B2B,
    recording_params,
    transcription_params,
)
from supporthub.tickets.models import Message, MessageKind, Ticket


def _race(*calls: Callable[[], object]) -> list[BaseException]:
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            call()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


@pytest.mark.django_db(transaction=True)
def test_racing_recording_and_transcription_callbacks_make_one_ticket_with_the_transcript(
    b2b: B2B,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: the race needs PostgreSQL's row locks")
    recording = callbacks.parse_recording(recording_params())
    transcript = callbacks.parse_transcription(
        transcription_params(RecordingSid=recording.recording_sid)
    )

    def record() -> object:
        return services.voicemail_record(callback=recording, received_at=timezone.now())

    def transcribe() -> object:
        return services.voicemail_transcribe(callback=transcript, received_at=timezone.now())

    assert _race(record, record, transcribe, record) == []
    row = Voicemail.objects.get()
    assert row.state == VoicemailState.TICKETED
    assert Ticket.objects.count() == 1
    ticket = Ticket.objects.get()
    # Whichever came first, the transcript is on the ticket exactly once.
    in_body = transcript.text in ticket.body
    messages = Message.objects.filter(ticket=ticket, kind=MessageKind.PUBLIC_REPLY).count()
    assert (in_body, messages) in {(True, 0), (False, 1)}
