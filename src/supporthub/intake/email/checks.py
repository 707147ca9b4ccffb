"""Deployment checks for inbound mail (`supporthub check --deploy`), and the same question
asked by the SMTP listener and the IMAP poller when they start."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

SENDER_CHECK_UNCHOSEN = (
    "Inbound mail: no way of trusting the From address was chosen, so anyone who can reach "
    "the listener or the mailbox can write as any Support Contact."
)
SENDER_CHECK_HINT = (
    "Choose one: INBOUND_MAIL_AUTHSERV_ID (the name your receiving mail server writes in "
    "Authentication-Results; make it strip that header from incoming mail), "
    "INBOUND_MAIL_VERIFY_DKIM=true (the product verifies DKIM aligned with From), or "
    "INBOUND_MAIL_TRUST_FROM=true (From taken on trust: a demo, a closed network)."
)


def sender_check() -> str:
    """How the From address of inbound mail is trusted: "authserv", "dkim", "trust", or ""
    when the operator has not chosen."""
    if settings.INBOUND_MAIL_AUTHSERV_ID:
        return "authserv"
    if settings.INBOUND_MAIL_VERIFY_DKIM:
        return "dkim"
    if settings.INBOUND_MAIL_TRUST_FROM:
        return "trust"
    return ""


def log_sender_check(logger: logging.Logger) -> None:
    """At the start of a process that takes mail in: an error line until it is chosen."""
    if not sender_check():
        logger.error("%s %s", SENDER_CHECK_UNCHOSEN, SENDER_CHECK_HINT)


@register(Tags.security, deploy=True)
def sender_authentication(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Until a way of trusting From is chosen, a deployment is not ready."""
    if sender_check():
        return []
    return [Error(SENDER_CHECK_UNCHOSEN, hint=SENDER_CHECK_HINT, id="intake_email.E001")]
