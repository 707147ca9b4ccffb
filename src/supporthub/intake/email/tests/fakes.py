"""A stand-in for `ticketing.mail_to_ticket`, for tests of the inbox itself.

The inbox's own tests (storing, claiming, quarantining, retrying) must not depend on how
mail becomes a ticket; the end-to-end tests (dovecot, SMTP, fault injection) use the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from supporthub.intake.email import ticketing
from supporthub.intake.email.models import InboundMessage
from supporthub.intake.email.outcome import Disposition, MailOutcome

MailToTicket = Callable[..., MailOutcome]


def use_mail_to_ticket(monkeypatch: pytest.MonkeyPatch, function: MailToTicket) -> None:
    """Make the inbox call `function(inbound=row)` instead of the real mail_to_ticket."""
    monkeypatch.setattr(ticketing, "mail_to_ticket", function)


def message(
    number: int,
    *,
    sender: str = "carol@initech.example",
    subject: str | None = None,
    message_id: str | None = "",
    body: str = "The nightly export stopped.",
    headers: str = "",
) -> bytes:
    """A small well-formed message; message_id "" gives <n@initech.example>, None none at all."""
    if message_id == "":
        message_id = f"<inbox-test-{number}@initech.example>"
    lines = [
        f"From: Carol <{sender}>",
        "To: support@supporthub.example",
        f"Subject: {subject if subject is not None else f'Export broken ({number})'}",
        f"Date: {format_datetime(datetime(2025, 11, 24, 15, 0, tzinfo=UTC))}",
    ]
    if message_id is not None:
        lines.append(f"Message-ID: {message_id}")
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    if headers:
        lines.append(headers.rstrip("\r\n"))
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def processed_ok(*, inbound: InboundMessage) -> MailOutcome:
    """Every message ignored: the inbox's bookkeeping without any ticket."""
    return MailOutcome(disposition=Disposition.IGNORED, reason=f"Seen: {inbound.subject}")
