"""On-call rotations: ordered members, a weekly hand-off at a local time, one-off overrides;
after-hours pages and their deliveries (PagerDuty, signed webhook)."""

from __future__ import annotations

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from supporthub.validators import validate_time_zone


def _feed_token() -> str:
    return secrets.token_urlsafe(24)


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Rotation(models.Model):
    """Who is paged after hours: members take turns, handing off weekly at a local time."""

    name = models.CharField(max_length=100, unique=True)
    region = models.CharField(
        max_length=40, blank=True, help_text="Support region key from the policy (e.g. us, eu)"
    )
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], help_text="IANA zone of the hand-off"
    )
    handoff_weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices, default=Weekday.MONDAY
    )
    handoff_time = models.TimeField(help_text="Local wall time of the weekly hand-off")
    starts_on = models.DateField(
        help_text="The first hand-off's date: the first member is on call from then"
    )
    # The secret in the calendar feed's address: calendar apps cannot log in.
    feed_token = models.CharField(max_length=64, unique=True, default=_feed_token)
    # Where this rotation's after-hours pages go; blank falls back to the PAGING_* settings.
    pagerduty_routing_key = models.CharField(
        max_length=64,
        blank=True,
        help_text="PagerDuty Events API v2 integration key of the service to page "
        "(blank: the PAGING_PAGERDUTY_ROUTING_KEY setting)",
    )
    webhook_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="Signed JSON webhook for pages (blank: the PAGING_WEBHOOK_URL setting)",
    )
    webhook_secret = models.CharField(
        max_length=200,
        blank=True,
        help_text="Shared secret for the webhook's X-SupportHub-Signature (required with a URL)",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.starts_on and self.starts_on.weekday() != self.handoff_weekday:
            raise ValidationError(
                {
                    "starts_on": f"{self.starts_on:%A %d %B %Y} is not a "
                    f"{Weekday(self.handoff_weekday).label}, the hand-off day."
                }
            )
        if self.webhook_url and not self.webhook_secret:
            raise ValidationError(
                {"webhook_secret": "A webhook needs a secret: receivers verify the signature."}
            )


class RotationMember(models.Model):
    """One place in a rotation's order."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    staff = models.ForeignKey("staff.StaffMember", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["rotation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["rotation", "position"], name="rotation_member_position_unique"
            ),
            models.UniqueConstraint(fields=["rotation", "staff"], name="rotation_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.rotation}: {self.position}. {self.staff}"


class RotationOverride(models.Model):
    """A one-off swap: this person is on call between these instants, whoever's turn it is."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="overrides")
    staff = models.ForeignKey("staff.StaffMember", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rotation", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="rotation_override_ends_after_start",
                violation_error_message="An override must end after it starts.",
            )
        ]

    def __str__(self) -> str:
        span = f"{self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M}"
        return f"{self.rotation}: {self.staff} {span}"


class Transport(models.TextChoices):
    PAGERDUTY = "pagerduty", "PagerDuty"
    WEBHOOK = "webhook", "Webhook"


class PageAction(models.TextChoices):
    """PagerDuty's event actions, in the order they must reach a receiver."""

    TRIGGER = "trigger", "Trigger"
    ACKNOWLEDGE = "acknowledge", "Acknowledge"
    RESOLVE = "resolve", "Resolve"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Page(models.Model):
    """The after-hours page of one urgent ticket (at most one per ticket): who was on call,
    and when the ticket was acknowledged and resolved."""

    ticket = models.OneToOneField(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="after_hours_page"
    )
    region = models.CharField(max_length=40, blank=True)
    rotation = models.ForeignKey(
        Rotation, on_delete=models.SET_NULL, null=True, blank=True, related_name="pages"
    )
    # None: no rotation, or nobody on call; the CS lead was still told.
    engineer = models.ForeignKey(
        "staff.StaffMember",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pages",
    )
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(resolved_at=None), name="routing_page_open_idx"
            )
        ]

    def __str__(self) -> str:
        return f"Page for ticket #{self.ticket_id}"

    @property
    def dedup_key(self) -> str:
        """PagerDuty's incident key: the ticket's reference, so a ticket is one incident."""
        return str(self.ticket.reference)


class PageDelivery(models.Model):
    """One event (trigger, acknowledge, resolve) of a page to one transport; delivered by
    workers, retried with backoff, failed after PAGING_MAX_ATTEMPTS for the admin to retry."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="deliveries")
    transport = models.CharField(max_length=20, choices=Transport.choices)
    action = models.CharField(max_length=20, choices=PageAction.choices)
    # Sent with every attempt (X-SupportHub-Delivery): receivers drop repeats by it.
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The worker process holding the claim (worker.queue.holder): host, pid, start time.
    claimed_by = models.CharField(max_length=300, blank=True)
    last_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="HTTP status of the last answer"
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "page deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["page", "transport", "action"], name="routing_page_delivery_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="routing_delivery_due_idx",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=Q(state="sending"),
                name="routing_delivery_sending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.get_transport_display()} ({self.state})"
