from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from supporthub.admin_base import ReadOnlyAdminMixin
from supporthub.tickets.models import Attachment, AuditEntry, Message, Ticket


class MessageInline(admin.TabularInline[Message, Ticket]):
    model = Message
    fields = ("created_at", "kind", "author_staff", "author_contact", "body")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # conversation goes through the console, which runs the SLA rules


class AttachmentInline(admin.TabularInline[Attachment, Ticket]):
    model = Attachment
    fields = ("created_at", "filename", "content_type", "size", "internal", "uploaded_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditInline(admin.TabularInline[AuditEntry, Ticket]):
    model = AuditEntry
    fields = ("at", "code", "actor", "data")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Ticket]):
    """Read-only in the back office: tickets change through services, so clocks stay right."""

    list_display = [
        "reference",
        "subject",
        "organisation",
        "severity",
        "channel",
        "status",
        "support_level",
        "received_at",
        "first_response_due_at",
        "first_response_status",
    ]
    list_filter = ["status", "severity", "channel", "support_level", "first_response_status"]
    search_fields = ["subject", "organisation__name", "requester__email"]
    date_hierarchy = "received_at"
    inlines = [MessageInline, AttachmentInline, AuditInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        return super().get_queryset(request).select_related("organisation")
