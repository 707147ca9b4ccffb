from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from supporthub.admin_base import ReadOnlyAdminMixin
from supporthub.intake.email.models import InboundMessage
from supporthub.intake.email.services import inbox_reprocess


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[InboundMessage]):
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
    actions = ["reprocess"]
    exclude = ["raw"]
    readonly_fields = ["raw_message"]

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        # Rows are never edited here, but reprocessing is a change: it needs that permission.
        return request.user.has_perm("intake_email.change_inboundmessage")

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundMessage]:
        # The list never loads the raw bytes (they can be megabytes each).
        return super().get_queryset(request).defer("raw")

    @admin.display(description="Raw message")
    def raw_message(self, obj: InboundMessage) -> str:
        url = reverse("admin:intake_email_inboundmessage_raw", args=[obj.pk])
        return format_html('<a href="{}">Download the message as received (.eml)</a>', url)

    @admin.action(
        description="Reprocess the selected quarantined messages", permissions=["reprocess"]
    )
    def reprocess(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        count = inbox_reprocess(ids=list(queryset.values_list("pk", flat=True)))
        skipped = queryset.count() - count
        note = f" ({skipped} not quarantined, left as they were)" if skipped else ""
        self.message_user(
            request, f"{count} message(s) queued for processing again{note}.", messages.SUCCESS
        )

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
