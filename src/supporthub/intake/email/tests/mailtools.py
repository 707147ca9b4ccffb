"""Helpers for mail-to-ticket tests: store raw mail as the inbox would, and write messages."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy

from supporthub.intake.email.models import InboundMessage, Source
from supporthub.intake.email.services import identify

# Header lines that have made the stdlib raise (CharsetError, HeaderParseError, ...).
WEIRD_HEADERS = [
    b'Content-Type: multipart/mixed; boundary=""',
    b"Content-Type: text/plain; charset*=utf-8''%ZZ",
    b"Content-Type: ;;;",
    b"Content-Disposition: attachment; filename*0*=utf-8''%E2; filename*1=x",
    b"From: =?utf-8?q?=E2?= <carol@initech.example>",
    b"Message-ID: <<<>>>",
    b"Content-Type: message/rfc822",
    b"Content-Transfer-Encoding: x-uuencode",
    b"Subject: =?ISO-8859-\xf3?Q?Probl=E8me?=",
    b'To: a@b, , ,; "',
    b'Content-Type: text/plain; charset="\xff\xfe"',
    b'Content-Disposition: inline; filename="\xe9\x00"',
    b"In-Reply-To: " + b"<x@y> " * 500,
]


def as_message(raw: bytes) -> EmailMessage:
    """The stdlib's parse of the bytes, for tests that read a header parse() does not keep."""
    message = BytesParser(policy=default_policy).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # policy.default always makes these
    return message


def store(
    raw: bytes,
    *,
    received_at: datetime,
    envelope_sender: str | None = None,
    envelope_recipients: list[str] | None = None,
    source: Source = Source.SMTP,
    dedupe_key: str | None = None,
) -> InboundMessage:
    """An InboundMessage row as the inbox stores it (the envelope sender defaults to From)."""
    msg = BytesParser(policy=default_policy).parsebytes(raw, headersonly=True)  # as the inbox
    digest = hashlib.sha256(raw).hexdigest()
    if envelope_sender is None:
        envelope_sender = str(msg.get("From", "") or "")
        if "<" in envelope_sender:
            envelope_sender = envelope_sender.split("<", 1)[1].split(">", 1)[0]
    identity = identify(raw)
    return InboundMessage.objects.create(
        raw=raw,
        sha256=digest,
        message_id=identity.message_id,
        dedupe_key=dedupe_key or identity.dedupe_key,
        source=source,
        mailbox="smtp://127.0.0.1:2525" if source == Source.SMTP else "imap://test/INBOX",
        envelope_sender=envelope_sender or "",
        envelope_recipients=envelope_recipients or ["support@supporthub.example"],
        sender=identity.sender,
        subject=identity.subject,
        received_at=received_at,
    )


def eml(
    *,
    sender: str,
    subject: str = "Search is slow",
    body: str = "Queries take 30 seconds since this morning.",
    message_id: str | None = "<m1@mail.example>",
    to: str = "support@supporthub.example",
    date: str = "Mon, 24 Nov 2025 10:00:00 -0500",
    extra: str = "",
) -> bytes:
    """A plain-text message; `extra` is more header lines ending in a newline."""
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Date: {date}"]
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    head = "\r\n".join(lines) + "\r\n" + extra.replace("\n", "\r\n").replace("\r\r\n", "\r\n")
    text = (
        head
        + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + "Content-Transfer-Encoding: 8bit\r\n\r\n"
        + body.replace("\n", "\r\n")
        + "\r\n"
    )
    return text.encode("utf-8")
