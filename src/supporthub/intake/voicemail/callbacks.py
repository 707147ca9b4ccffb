"""Twilio's recording and transcription callbacks, parsed from their form parameters.

Parsing is pure: it names the parameter at fault (`CallbackError.field`) and never touches
the database. The parameters arrive signed by Twilio (the view checks X-Twilio-Signature
before parsing), so a timestamp among them is Twilio's, not the caller's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

# Twilio SIDs: two letters naming the resource, then 32 hex digits.
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_URL = URLValidator(schemes=["http", "https"])
TRANSCRIPTION_STATUSES = ("completed", "failed")


class CallbackError(ValueError):
    """A parameter is missing or malformed; `field` names it (the 400 says which)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RecordingCallback:
    recording_sid: str
    call_sid: str
    caller: str  # "From" as sent: E.164 normally, "Anonymous" or empty when withheld
    recording_url: str
    duration: int  # seconds
    # RecordingStartTime (recording status callbacks send it; the Record verb's action does
    # not); None when absent or unreadable.
    started_at: datetime | None
    status: str  # RecordingStatus ("completed", "failed", "absent"), "" when not sent
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TranscriptionCallback:
    recording_sid: str
    status: str  # "completed" or "failed"
    text: str
    transcription_sid: str
    call_sid: str
    caller: str | None  # None: the callback did not say
    params: dict[str, Any] = field(default_factory=dict)


def flatten(params: Any) -> dict[str, Any]:
    """A QueryDict (or mapping of lists) as stored: one value as itself, repeats as a list."""
    out: dict[str, Any] = {}
    for key in params:
        values: Sequence[str] = params.getlist(key) if hasattr(params, "getlist") else [params[key]]
        out[str(key)] = values[0] if len(values) == 1 else list(values)
    return out


def _required(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise CallbackError(name, "this parameter is required")
    if isinstance(value, list):
        raise CallbackError(name, "sent more than once")
    return str(value).strip()


def _optional(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if isinstance(value, list):
        raise CallbackError(name, "sent more than once")
    return "" if value is None else str(value).strip()


def _sid(params: Mapping[str, Any], name: str, prefix: str, *, required: bool = True) -> str:
    value = _required(params, name) if required else _optional(params, name)
    if not value and not required:
        return ""
    if not _SID.match(value) or not value.startswith(prefix):
        raise CallbackError(name, f"{value!r} is not a Twilio SID ({prefix} and 32 hex digits)")
    return value


def _started_at(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # RFC 2822 "-0000": UTC, origin unknown
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_recording(params: Mapping[str, Any]) -> RecordingCallback:
    url = _required(params, "RecordingUrl")
    try:
        _URL(url)
    except ValidationError:
        raise CallbackError("RecordingUrl", f"{url!r} is not an http(s) URL") from None
    raw_duration = _required(params, "RecordingDuration")
    try:
        duration = int(raw_duration)
    except ValueError:
        raise CallbackError(
            "RecordingDuration", f"{raw_duration!r} is not a whole number of seconds"
        ) from None
    if duration < 0:
        raise CallbackError("RecordingDuration", f"{raw_duration!r} is negative")
    return RecordingCallback(
        recording_sid=_sid(params, "RecordingSid", "RE"),
        call_sid=_sid(params, "CallSid", "CA"),
        caller=_required(params, "From"),
        recording_url=url,
        duration=duration,
        started_at=_started_at(_optional(params, "RecordingStartTime")),
        status=_optional(params, "RecordingStatus").lower(),
        params=dict(params),
    )


def parse_transcription(params: Mapping[str, Any]) -> TranscriptionCallback:
    recording_sid = _sid(params, "RecordingSid", "RE")
    status = _required(params, "TranscriptionStatus").lower()
    if status not in TRANSCRIPTION_STATUSES:
        raise CallbackError(
            "TranscriptionStatus",
            f"{status!r} is not one of {', '.join(TRANSCRIPTION_STATUSES)}",
        )
    text = _required(params, "TranscriptionText") if status == "completed" else ""
    caller = params.get("From")
    return TranscriptionCallback(
        recording_sid=recording_sid,
        status=status,
        text=text,
        transcription_sid=_sid(params, "TranscriptionSid", "TR", required=False),
        call_sid=_sid(params, "CallSid", "CA", required=False),
        caller=_optional(params, "From") if caller is not None else None,
        params=dict(params),
    )
