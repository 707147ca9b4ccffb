"""Voicemails left on the support line, one row per Twilio RecordingSid; the truth for triage."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from supporthub.customers.models import SupportContact
from supporthub.staff.models import StaffMember
from supporthub.tickets.models import Ticket


class VoicemailState(models.TextChoices):
    # The transcription callback came first: the transcript is kept until the recording's.
    AWAITING_RECORDING = "awaiting_recording", "Waiting for the recording callback"
    TICKETED = "ticketed", "Ticket opened"
    TRIAGE = "triage", "Kept for triage"
    DISMISSED = "dismissed", "Dismissed by an agent"


class TranscriptionStatus(models.TextChoices):
    NONE = "", "No transcript yet"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class Voicemail(models.Model):
    """One voicemail. Callbacks fill it in; a retried callback changes nothing."""

    recording_sid = models.CharField(max_length=64, unique=True)
    call_sid = models.CharField(max_length=64, blank=True, db_index=True)
    # The caller as Twilio sent it ("From") and, when it is a real number, its E.164 form;
    # blank for a withheld or unparseable number.
    caller_raw = models.CharField(max_length=64, blank=True)
    caller_number = models.CharField(max_length=20, blank=True, db_index=True)
    recording_url = models.URLField(max_length=500, blank=True)
    recording_duration = models.PositiveIntegerField(null=True, blank=True)  # seconds
    transcript = models.TextField(blank=True)
    transcription_sid = models.CharField(max_length=64, blank=True)
    transcription_status = models.CharField(
        max_length=12, choices=TranscriptionStatus.choices, blank=True, default=""
    )
    # Every parameter of each callback as received (signed by Twilio), keyed by callback.
    raw_recording = models.JSONField(default=dict, blank=True)
    raw_transcription = models.JSONField(default=dict, blank=True)
    # When the first callback reached us; `recorded_at` is when the clock starts.
    received_at = models.DateTimeField()
    recorded_at = models.DateTimeField(null=True, blank=True)
    # What recorded_at was read from: "recording_start_time" (Twilio's, signed) or "receipt".
    clock_source = models.CharField(max_length=30, blank=True)
    transcribed_at = models.DateTimeField(null=True, blank=True)
    contact = models.ForeignKey(
        SupportContact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="voicemails",
    )
    ticket = models.OneToOneField(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="voicemail"
    )
    state = models.CharField(
        max_length=20, choices=VoicemailState.choices, default=VoicemailState.AWAITING_RECORDING
    )
    reason = models.TextField(blank=True, help_text="Why the voicemail is in triage")
    # The agent who matched or dismissed it from triage, and their note.
    handled_by = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(state__in=["triage", "awaiting_recording"]),
                name="intake_voicemail_triage_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Voicemail {self.recording_sid} from {self.caller_number or self.caller_raw or '?'}"

    @property
    def needs_triage(self) -> bool:
        return self.state in (VoicemailState.TRIAGE, VoicemailState.AWAITING_RECORDING)
