"""Tickets, their messages and the audit trail."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Channel(models.TextChoices):
    HUB = "hub", "Support Hub"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    VOICEMAIL = "voicemail", "Voicemail"
    API = "api", "API"


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING_CUSTOMER = "pending_customer", "Pending customer"
    ON_HOLD = "on_hold", "On hold"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING_CUSTOMER, Status.ON_HOLD)


class TicketType(models.TextChoices):
    INCIDENT = "incident", "Incident"
    QUESTION = "question", "Question"
    ENHANCEMENT_REQUEST = "enhancement_request", "Enhancement request"
    TRAINING_REQUEST = "training_request", "Training request"


class BodyFormat(models.TextChoices):
    """How a stored body is rendered: plain text, or HTML sanitised with nh3 at render time."""

    TEXT = "text", "Plain text"
    HTML = "html", "HTML"


class FirstResponseStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"
    NO_TARGET = "no_target", "No target"


class Ticket(models.Model):
    """An incident or request, measured against what was in force when it was received."""

    # Indexed by the (organisation, status) index below; a second index would only slow
    # the bulk re-time, which rewrites every index of every moved row.
    organisation = models.ForeignKey(
        "customers.Organisation", on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    requester = models.ForeignKey(
        "customers.SupportContact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
    )
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True, help_text="As received; sanitised only when rendered")
    body_format = models.CharField(
        max_length=10, choices=BodyFormat.choices, default=BodyFormat.TEXT
    )
    severity = models.PositiveSmallIntegerField()
    type = models.CharField(max_length=30, choices=TicketType.choices, default=TicketType.INCIDENT)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        "staff.StaffMember",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    region = models.CharField(max_length=40, blank=True)
    # Closed as out of scope: the key of one of the policy's exclusions.
    out_of_scope = models.CharField(max_length=60, blank=True)
    # Escalated to the CS lead: the hot-items list reads these.
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation_reason = models.TextField(blank=True)
    # Imported from another helpdesk: its id there, unique per organisation.
    external_id = models.CharField(max_length=100, blank=True)

    # What was in force at receipt: the clock is always measured against these.
    received_at = models.DateTimeField(help_text="When the incident was received; the clock starts")
    policy_version = models.ForeignKey(
        "policies.PolicyVersion", on_delete=models.PROTECT, related_name="tickets"
    )
    subscription = models.ForeignKey(
        "customers.Subscription", on_delete=models.PROTECT, related_name="tickets"
    )
    support_level = models.CharField(max_length=40)

    # The first-response clock. NULL due: the policy states no target for this severity.
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_status = models.CharField(
        max_length=20, choices=FirstResponseStatus.choices, default=FirstResponseStatus.PENDING
    )
    # Breach warnings of the first-response clock (settings.SLA_WARNING_POINTS, percentages of
    # the target): the highest point already notified (0: none), and the instant of the next
    # one (NULL: none left). The breach scan reads only `ticket_sla_warning_due`.
    sla_warned_point = models.PositiveSmallIntegerField(default=0)
    sla_next_warning_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # Queues and the breach scanner read only running clocks, earliest due first.
            models.Index(
                fields=["first_response_due_at"],
                name="ticket_running_clock_due",
                condition=Q(first_response_at__isnull=True, first_response_due_at__isnull=False),
            ),
            # The breach scan: open, unanswered clocks that still have a warning to fire.
            models.Index(
                fields=["sla_next_warning_at"],
                name="ticket_sla_warning_due",
                condition=Q(
                    status__in=[s.value for s in OPEN_STATUSES],
                    first_response_at__isnull=True,
                    sla_next_warning_at__isnull=False,
                ),
            ),
            models.Index(fields=["organisation", "status"]),
            models.Index(fields=["received_at"]),
            models.Index(
                fields=["escalated_at"],
                name="ticket_escalated",
                condition=Q(escalated_at__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                condition=~Q(external_id=""),
                name="ticket_external_id_unique_per_organisation",
                violation_error_message="This organisation already has a ticket with that "
                "external id.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.subject}"

    @property
    def reference(self) -> str:
        return f"SH-{self.pk:06d}" if self.pk else "SH-new"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class MessageKind(models.TextChoices):
    PUBLIC_REPLY = "public_reply", "Public reply"
    INTERNAL_NOTE = "internal_note", "Internal note"
    AUTO_ACKNOWLEDGEMENT = "auto_acknowledgement", "Automatic acknowledgement"
    # A customer-visible note written by the product (a development ticket's progress).
    PROGRESS_NOTE = "progress_note", "Progress note"


class Message(models.Model):
    """One entry of a ticket's conversation; only a staff public reply stops the clock."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    author_staff = models.ForeignKey(
        "staff.StaffMember", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author_contact = models.ForeignKey(
        "customers.SupportContact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    body = models.TextField()
    body_format = models.CharField(
        max_length=10, choices=BodyFormat.choices, default=BodyFormat.TEXT
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(author_staff__isnull=False, author_contact__isnull=False),
                name="message_has_at_most_one_author",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.ticket_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_public(self) -> bool:
        """Customers see public replies and acknowledgements, never internal notes."""
        return self.kind != MessageKind.INTERNAL_NOTE


PUBLIC_MESSAGE_KINDS = (
    MessageKind.PUBLIC_REPLY,
    MessageKind.AUTO_ACKNOWLEDGEMENT,
    MessageKind.PROGRESS_NOTE,
)


def attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name is random: the original name is kept in a field and only ever sent
    # back in Content-Disposition, so no user-chosen path reaches the file system.
    return f"attachments/{instance.ticket_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file on a ticket; served as a download, never rendered from the app's origin."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=150)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # Attached to an internal note: staff only.
    internal = models.BooleanField(default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.filename} on {self.ticket_id}"


class AuditEntry(models.Model):
    """A change to a ticket: who, what (a stable code and its data), when."""

    ticket = models.ForeignKey(  # indexed by (ticket, at) below
        Ticket, on_delete=models.CASCADE, related_name="audit", db_index=False
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    code = models.CharField(max_length=60)
    data = models.JSONField(default=dict)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["ticket", "at"])]

    def __str__(self) -> str:
        return f"{self.code} on {self.ticket_id} at {self.at:%Y-%m-%d %H:%M}"
