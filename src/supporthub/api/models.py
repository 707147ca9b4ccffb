"""API tokens for integrations, and the idempotency keys of ticket creation."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ApiToken(models.Model):
    """A bearer token, stored as its SHA-256; scoped to one organisation or to a staff login."""

    name = models.CharField(max_length=100, help_text="What the integration is, e.g. 'CRM sync'")
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True)
    organisation = models.ForeignKey(
        "customers.Organisation",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
        help_text="Organisation scope: opens and reads this organisation's tickets only",
    )
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
        help_text="Staff scope: acts as this staff login",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(
                condition=(Q(organisation__isnull=False) & Q(staff_user__isnull=True))
                | (Q(organisation__isnull=True) & Q(staff_user__isnull=False)),
                name="api_token_has_exactly_one_scope",
                violation_error_message="A token is scoped to an organisation or to a staff "
                "login, not both and not neither.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyRecord(models.Model):
    """One Idempotency-Key of a caller: the request it came with and the ticket it made."""

    caller = models.CharField(max_length=80, help_text="token:<id> or user:<id>")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["caller", "key"], name="idempotency_key_per_caller")
        ]

    def __str__(self) -> str:
        return f"{self.caller} {self.key}"
