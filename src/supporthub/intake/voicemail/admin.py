from __future__ import annotations

from django.contrib import admin

from supporthub.admin_base import ReadOnlyAdminMixin
from supporthub.intake.voicemail.models import Voicemail


@admin.register(Voicemail)
class VoicemailAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Voicemail]):
    """Read-only: callbacks write voicemails; agents triage them in the console. Never
    deleted by hand: a recording is kept as the inbound mail is."""

    list_display = [
        "received_at",
        "caller_number",
        "contact",
        "recording_duration",
        "transcription_status",
        "state",
        "ticket",
        "reason",
    ]
    list_filter = ["state", "transcription_status", "clock_source"]
    search_fields = [
        "recording_sid",
        "call_sid",
        "caller_number",
        "caller_raw",
        "contact__name",
        "contact__email",
        "transcript",
    ]
    list_select_related = ["contact", "ticket"]
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in Voicemail._meta.get_fields() if f.concrete]
