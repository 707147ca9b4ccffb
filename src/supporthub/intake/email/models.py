"""Raw inbound mail, stored before its source is acknowledged; the truth the workers drain."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from supporthub.tickets.models import Message, Ticket


class Source(models.TextChoices):
    IMAP = "imap", "IMAP mailbox"
    SMTP = "smtp", "SMTP listener"


class InboundState(models.TextChoices):
    STORED = "stored", "Stored, waiting to be processed"
    PROCESSED = "processed", "Processed"
    QUARANTINED = "quarantined", "Quarantined"


class InboundMessage(models.Model):
    """One received message, byte for byte. Processing never changes `raw`."""

    raw = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    # The Message-ID header as written, angle brackets included, surrounding space removed;
    # empty when the message has none (it is then de-duplicated by sha256).
    message_id = models.CharField(max_length=998, blank=True)
    # What makes a second copy the same message: "mid:" + sha256 of its Message-ID, From and
    # Date headers as written, or "sha256:" + the sha256 of the bytes without a Message-ID.
    dedupe_key = models.CharField(max_length=80)
    source = models.CharField(max_length=10, choices=Source.choices)
    mailbox = models.CharField(max_length=300)  # e.g. imap://support@host:993/INBOX
    imap_uidvalidity = models.BigIntegerField(null=True, blank=True)
    imap_uid = models.BigIntegerField(null=True, blank=True)
    envelope_sender = models.CharField(max_length=998, blank=True)
    envelope_recipients = models.JSONField(default=list, blank=True)
    # Read from the headers when stored, for the admin's list only (never trusted).
    sender = models.CharField(max_length=998, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    # The server's receipt instant: the clock starts here, never at the Date header.
    received_at = models.DateTimeField()
    state = models.CharField(
        max_length=12, choices=InboundState.choices, default=InboundState.STORED
    )
    disposition = models.CharField(max_length=12, blank=True)  # outcome.Disposition
    reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The worker process holding the claim (worker.queue.holder): host, pid, start time.
    claimed_by = models.CharField(max_length=300, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_mail"
    )
    # The ticket message this mail became (a new ticket's first message or a reply).
    ticket_message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_mail"
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = "inbound message"
        # Every index is written by each stored message and again when it is processed: only
        # those a query uses. (Constraints and Index rather than unique=/db_index=, which on
        # PostgreSQL add a second, LIKE-only index per text column; nothing searches by sha256,
        # and the admin's search is a contains, which no B-tree serves.)
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], name="intake_email_dedupe_key_unique"),
            models.UniqueConstraint(
                fields=["mailbox", "imap_uidvalidity", "imap_uid"],
                condition=Q(imap_uid__isnull=False),
                name="intake_email_imap_uid_unique",
            ),
        ]
        indexes = [
            # Threading looks up earlier mail by the Message-IDs a reply names.
            models.Index(fields=["message_id"], name="intake_email_message_id_idx"),
            models.Index(
                fields=["received_at"],
                condition=Q(state="stored"),
                name="intake_email_stored_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender or self.envelope_sender or 'unknown sender'}: {self.subject}"
