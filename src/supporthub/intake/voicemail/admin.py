from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from supporthub.intake.voicemail.models import Voicemail


@admin.register(Voicemail)
class VoicemailAdmin(admin.ModelAdmin[Voicemail]):
    """Read-only: callbacks write voicemails; agents triage them in the console."""

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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
