from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from supporthub.admin_base import ReadOnlyAdminMixin
from supporthub.intake.email.models import InboundMessage
from supporthub.intake.email.services import INBOX
from supporthub.worker.queue import RetryPermission, retry_action


def _reprocessed(count: int, left: int) -> str:
    note = f" ({left} not quarantined, left as they were)" if left else ""
    return f"{count} message(s) queued for processing again{note}."


@admin.register(InboundMessage)
class InboundMessageAdmin(RetryPermission, ReadOnlyAdminMixin, admin.ModelAdmin[InboundMessage]):
    """Read-only: mail is written by the sources; an admin reads, downloads and reprocesses."""

    list_display = [
        "received_at",
        "source",
        "sender",
        "subject",
        "state",
        "disposition",
        "reason",
        "attempts",
        "ticket",
    ]
    list_filter = ["state", "source", "disposition", "mailbox"]
    search_fields = ["sender", "subject", "message_id", "envelope_sender", "sha256", "reason"]
    list_select_related = ["ticket"]
    date_hierarchy = "received_at"
    actions = [
        retry_action(
            INBOX,
            name="reprocess",
            description="Reprocess the selected quarantined messages",
            message=_reprocessed,
        )
    ]
    exclude = ["raw"]
    readonly_fields = ["raw_message"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundMessage]:
        # The list never loads the raw bytes (they can be megabytes each).
        return super().get_queryset(request).defer("raw")

    @admin.display(description="Raw message")
    def raw_message(self, obj: InboundMessage) -> str:
        url = reverse("admin:intake_email_inboundmessage_raw", args=[obj.pk])
        return format_html('<a href="{}">Download the message as received (.eml)</a>', url)

    def get_urls(self) -> list[URLPattern]:
        raw = path(
            "<int:pk>/raw/",
            self.admin_site.admin_view(self.download_raw),
            name="intake_email_inboundmessage_raw",
        )
        return [raw, *super().get_urls()]

    def download_raw(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        row = get_object_or_404(InboundMessage, pk=pk)
        response = HttpResponse(bytes(row.raw), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="inbound-{row.pk}.eml"'
        return response
