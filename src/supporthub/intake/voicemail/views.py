"""Twilio's two voicemail callbacks: signed, form-encoded POSTs answered with empty TwiML.

Order of checks: not configured (503), bad or missing X-Twilio-Signature (403), a missing
or malformed parameter (400 naming it); none of them stores anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import (  # type: ignore[import-untyped]
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from supporthub.intake.voicemail import callbacks, services

log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
Parsed = TypeVar("Parsed")


def public_url(request: HttpRequest) -> str:
    """The address Twilio called: PUBLIC_BASE_URL's scheme and host, the request's path.

    Behind a reverse proxy Django sees an internal host and scheme; Twilio signs the public
    one it was configured with. The path (script prefix and query included) is the request's.
    """
    base = urlsplit(settings.PUBLIC_BASE_URL)
    return f"{base.scheme}://{base.netloc}{request.get_full_path()}"


def signature_valid(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER, ""))
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    return bool(validator.validate(public_url(request), request.POST, signature, algorithm))


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


def _callback(
    request: HttpRequest,
    parse: Callable[[dict[str, Any]], Parsed],
    handle: Callable[[Parsed], object],
) -> HttpResponse:
    if not settings.TWILIO_AUTH_TOKEN:
        return _plain("voicemail is not configured (TWILIO_AUTH_TOKEN is empty)", 503)
    if not signature_valid(request):
        log.warning("voicemail callback with a bad or missing X-Twilio-Signature: %s", request.path)
        return _plain("X-Twilio-Signature is missing or does not match this request", 403)
    try:
        parsed = parse(callbacks.flatten(request.POST))
    except callbacks.CallbackError as error:
        return _plain(f"{error.field}: {error.message}", 400)
    handle(parsed)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def recording(request: HttpRequest) -> HttpResponse:
    """The recording callback (the Record verb's action, or its recordingStatusCallback)."""
    received_at = timezone.now()
    return _callback(
        request,
        callbacks.parse_recording,
        lambda parsed: services.voicemail_record(callback=parsed, received_at=received_at),
    )


@csrf_exempt
@require_POST
def transcription(request: HttpRequest) -> HttpResponse:
    """The transcription callback (the Record verb's transcribeCallback)."""
    received_at = timezone.now()
    return _callback(
        request,
        callbacks.parse_transcription,
        lambda parsed: services.voicemail_transcribe(callback=parsed, received_at=received_at),
    )
