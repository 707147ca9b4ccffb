"""Signed Twilio callbacks and a B2B organisation whose policy turns voicemail into tickets."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from supporthub.customers.models import Organisation, SupportContact
from supporthub.testing import factories as f
from supporthub.testing.world import World

TOKEN = "test-twilio-auth-token"
PUBLIC = "https://support.example.com"
BOB_PHONE = "+12015550123"
_sids = itertools.count(1)


def sid(prefix: str) -> str:
    return f"{prefix}{next(_sids):032x}"


@dataclass
class Twilio:
    """Posts callbacks the way Twilio does: form-encoded, signed over the public URL."""

    client: Client
    token: str = TOKEN

    def signature(self, path: str, params: dict[str, str], token: str | None = None) -> str:
        return str(RequestValidator(token or self.token).compute_signature(PUBLIC + path, params))

    def post(
        self,
        name: str,
        params: dict[str, str],
        *,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        path = reverse(f"intake_voicemail:{name}")
        sig = self.signature(path, params) if signature is None else signature
        sent = dict(headers or {})
        if sig:
            sent["X-Twilio-Signature"] = sig
        return self.client.post(path, params, headers=sent)

    def recording(self, **params: str) -> Any:
        return self.post("recording", recording_params(**params))

    def transcription(self, **params: str) -> Any:
        return self.post("transcription", transcription_params(**params))


def recording_params(**overrides: str) -> dict[str, str]:
    params = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": sid("CA"),
        "RecordingSid": sid("RE"),
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
        "RecordingDuration": "42",
        "From": BOB_PHONE,
        "To": "+18885855574",
    }
    params.update(overrides)
    return params


def transcription_params(**overrides: str) -> dict[str, str]:
    params = {
        "AccountSid": "AC" + "0" * 32,
        "TranscriptionSid": sid("TR"),
        "TranscriptionStatus": "completed",
        "TranscriptionText": "Hi, this is Bob, the checkout shows an error since this morning.",
        "RecordingSid": sid("RE"),
        "CallSid": sid("CA"),
        "From": BOB_PHONE,
    }
    params.update(overrides)
    return params


@pytest.fixture
def twilio(client: Client, settings: Any) -> Twilio:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    return Twilio(client)


@dataclass
class B2B:
    organisation: Organisation  # Acme: the B2B policy (voicemail creates tickets)
    bob: SupportContact  # a Support Contact of Acme, phone +1 201-555-0123


@pytest.fixture
def b2b(world: World) -> B2B:
    acme = f.organisation(name="Acme", time_zone="America/Chicago")
    f.subscribe(acme, policy_key="b2b-customer-success", level="customer-success")
    bob = f.add_contact(acme, "Bob", phone=BOB_PHONE, user=f.user(username="bob"))
    return B2B(acme, bob)
