"""The outbox: every message leaving the process, written in the transaction of its change."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from supporthub.tickets.models import Ticket


class OutboxKind(models.TextChoices):
    ACKNOWLEDGED = "ticket.acknowledged", "Acknowledgement"
    STAFF_REPLY = "ticket.staff_reply", "Staff reply"
    STATUS_CHANGED = "ticket.status_changed", "Status change"
    MAIL_AUTO_REPLY = "mail.auto_reply", "Automatic reply to inbound mail"
    SLA_WARNING = "sla.warning", "Breach warning"
    SLA_BREACHED = "sla.breached", "Breach"
    ESCALATED = "ticket.escalated", "Escalation to the CS lead"
    PAGE = "oncall.page", "On-call page"
    CS_LEAD_NOTICE = "oncall.cs_lead", "After-hours notice to the CS lead"
    PASSWORD_RESET = "auth.password_reset", "Password reset link"
    DSE_USAGE_WARNING = "dse.usage_warning", "Designated Support Engineer: Monthly Limit warning"
    DSE_SUBSTITUTED = "dse.substituted", "Designated Support Engineer substituted"
    DSE_CHECKIN_REMINDER = "dse.checkin_reminder", "Designated Support Engineer: check-in due"
    DSE_MONTHLY_REPORT = "dse.monthly_report", "Designated Support Engineer: monthly case report"


class OutboxState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboxMessage(models.Model):
    """One mail to one recipient; delivered by the outbox queue (notify.delivery), retried with
    backoff."""

    kind = models.CharField(max_length=40, choices=OutboxKind.choices)
    # The event it reports, e.g. "ticket.staff_reply:message:42": one event, one mail.
    dedupe_key = models.CharField(max_length=120)
    # Empty for mail about no ticket (e.g. telling a sender who is not a Support Contact how
    # to reach their organisation's contacts).
    ticket = models.ForeignKey(
        Ticket,
        on_delete=models.CASCADE,
        related_name="outbox_messages",
        null=True,
        blank=True,
    )
    recipient = models.EmailField()
    subject = models.CharField(max_length=300)
    text_body = models.TextField()
    html_body = models.TextField()
    headers = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=10, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The worker process holding the claim (worker.queue.holder): host, pid, start time.
    claimed_by = models.CharField(max_length=300, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "outbox message"
        # A constraint rather than unique=True, which on PostgreSQL adds a LIKE-only twin
        # index that every mail would write and no query reads.
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], name="notify_outbox_dedupe_key_unique")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="notify_outbox_due_idx",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=Q(state="sending"),
                name="notify_outbox_sending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient} ({self.state})"

    @property
    def message_id(self) -> str:
        """Stable per row: a retry sends the same Message-ID, so clients drop duplicates."""
        return f"<sh-{self.ticket_id or 'mail'}-{self.pk}@{settings.REPLY_DOMAIN}>"
