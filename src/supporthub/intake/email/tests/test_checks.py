"""The system check that warns when inbound mail trusts the From address."""

from __future__ import annotations

from typing import Any

from supporthub.intake.email.checks import sender_authentication


def test_without_an_authserv_id_the_check_warns(settings: Any) -> None:
    settings.INBOUND_MAIL_AUTHSERV_ID = ""
    [warning] = sender_authentication()
    assert warning.id == "intake_email.W001"
    settings.INBOUND_MAIL_AUTHSERV_ID = "mx.supporthub.example"
    assert sender_authentication() == []
