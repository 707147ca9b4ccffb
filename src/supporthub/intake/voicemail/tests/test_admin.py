"""Voicemails in the admin: listed and viewed, never added, edited or deleted by hand."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from supporthub.intake.voicemail.models import Voicemail

pytestmark = pytest.mark.django_db

URL = "/admin/intake_voicemail/voicemail/"


def test_a_superuser_can_view_a_voicemail_but_not_delete_or_change_it(client: Any) -> None:
    voicemail = Voicemail.objects.create(
        recording_sid="RE0123", caller_raw="+15551230000", received_at=timezone.now()
    )
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))

    listed = client.get(URL)
    assert listed.status_code == 200
    assert "delete_selected" not in listed.content.decode()
    viewed = client.get(f"{URL}{voicemail.pk}/change/")
    assert viewed.status_code == 200
    assert "+15551230000" in viewed.content.decode()

    assert client.get(f"{URL}{voicemail.pk}/delete/").status_code == 403
    assert client.post(f"{URL}{voicemail.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(
        URL, {"action": "delete_selected", "_selected_action": [voicemail.pk], "post": "yes"}
    ).status_code in (200, 302)
    assert client.get(f"{URL}add/").status_code == 403
    assert Voicemail.objects.filter(pk=voicemail.pk).exists()
