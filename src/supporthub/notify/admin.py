from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from supporthub.admin_base import ReadOnlyAdminMixin
from supporthub.notify.models import OutboxMessage
from supporthub.notify.services import outbox_retry


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[OutboxMessage]):
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
    actions = ["retry_failed"]
    readonly_fields = ["message_id"]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        # Rows are never edited here, but retrying is a change: it needs the change permission.
        return request.user.has_perm("notify.change_outboxmessage")

    @admin.action(description="Retry the selected failed messages", permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        count = outbox_retry(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} failed message(s) queued again.", messages.SUCCESS)
