"""Deployment checks for inbound mail (`supporthub check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def sender_authentication(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Without INBOUND_MAIL_AUTHSERV_ID, the From address of inbound mail is taken on trust."""
    if settings.INBOUND_MAIL_AUTHSERV_ID:
        return []
    return [
        Warning(
            "Inbound mail trusts the From address: anyone can write as a Support Contact.",
            hint=(
                "Set INBOUND_MAIL_AUTHSERV_ID to the name your receiving mail server writes in "
                "Authentication-Results (and make it strip that header from incoming mail), so "
                "a contact's mail needs DMARC, DKIM or SPF to pass for the From domain."
            ),
            id="intake_email.W001",
        )
    ]
