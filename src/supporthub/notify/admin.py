from __future__ import annotations

from django.contrib import admin

from supporthub.admin_base import ReadOnlyAdminMixin
from supporthub.notify.delivery import OUTBOX
from supporthub.notify.models import OutboxMessage
from supporthub.worker.queue import RetryPermission, retry_action


@admin.register(OutboxMessage)
class OutboxMessageAdmin(RetryPermission, ReadOnlyAdminMixin, admin.ModelAdmin[OutboxMessage]):
    """Read-only: the outbox is written by services; the one thing to do is retry failures."""

    list_display = [
        "created_at",
        "kind",
        "ticket",
        "recipient",
        "subject",
        "state",
        "attempts",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["state", "kind"]
    search_fields = ["recipient", "subject", "dedupe_key"]
    list_select_related = ["ticket"]
    actions = [
        retry_action(
            OUTBOX,
            description="Retry the selected failed messages",
            message=lambda count, left: f"{count} failed message(s) queued again.",
        )
    ]
    readonly_fields = ["message_id"]
