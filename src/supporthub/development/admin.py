"""The back office: tracker connections (secrets typed in, stored encrypted, never shown),
inbound deliveries with their outcome and a retry, issues, links, note wording."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from supporthub.admin_base import ReadOnlyAdminMixin
from supporthub.development.delivery import DELIVERIES
from supporthub.development.models import (
    EngineeringIssue,
    InboundDelivery,
    NoteTemplate,
    StageMove,
    TicketLink,
    TrackerConnection,
)
from supporthub.development.stages import template_problem
from supporthub.worker.queue import RetryPermission, retry_action


class ConnectionForm(forms.ModelForm[TrackerConnection]):
    web_url = forms.URLField(
        assume_scheme="https",
        max_length=300,
        label="Address",
        help_text="GitHub: https://github.com/OWNER/REPO; Jira: https://SITE.atlassian.net",
    )
    api_url = forms.URLField(
        assume_scheme="https",
        max_length=300,
        required=False,
        label="API root",
        help_text="Blank: https://api.github.com, or the Jira site itself",
    )
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="The secret typed into the tracker's webhook; blank keeps the stored one.",
    )
    api_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="GitHub: a fine-grained token reading issues, pull requests and contents; "
        "Jira: an API token of api user. Blank keeps the stored one.",
    )
    clear_api_token = forms.BooleanField(required=False, label="Remove the stored API token")

    class Meta:
        model = TrackerConnection
        fields = [
            "name",
            "slug",
            "kind",
            "web_url",
            "api_url",
            "api_user",
            "production_environment",
            "default_branch",
            "release_is_production",
            "active",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        has_secret = bool(self.instance.webhook_secret_encrypted)
        if not data.get("webhook_secret") and not has_secret:
            self.add_error("webhook_secret", "Set the webhook secret: every delivery is signed.")
        return data

    def save(self, commit: bool = True) -> TrackerConnection:
        connection = super().save(commit=False)
        if self.cleaned_data.get("webhook_secret"):
            connection.set_webhook_secret(self.cleaned_data["webhook_secret"])
        if self.cleaned_data.get("clear_api_token"):
            connection.set_api_token("")
        elif self.cleaned_data.get("api_token"):
            connection.set_api_token(self.cleaned_data["api_token"])
        if commit:
            connection.save()
        return connection


@admin.register(TrackerConnection)
class TrackerConnectionAdmin(admin.ModelAdmin[TrackerConnection]):
    form = ConnectionForm
    list_display = ["name", "kind", "web_url", "webhook_address", "has_api_token", "active"]
    prepopulated_fields = {"slug": ["name"]}

    @admin.display(description="Webhook address (Payload URL)")
    def webhook_address(self, obj: TrackerConnection) -> str:
        return reverse(f"development:{obj.kind}", args=[obj.slug])

    @admin.display(boolean=True, description="API token")
    def has_api_token(self, obj: TrackerConnection) -> bool:
        return bool(obj.api_token_encrypted)


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(RetryPermission, ReadOnlyAdminMixin, admin.ModelAdmin[InboundDelivery]):
    """Every delivery as received, what processing did with it; failed ones can be retried."""

    list_display = [
        "received_at",
        "connection",
        "event",
        "delivery_id",
        "state",
        "attempts",
        "outcome",
    ]
    list_filter = ["state", "connection", "event"]
    list_select_related = ["connection"]
    search_fields = ["delivery_id", "outcome", "last_error"]
    readonly_fields = ["body", "headers", "outcome", "last_error"]
    actions = [
        retry_action(
            DELIVERIES,
            description="Process the selected failed deliveries again",
            message=lambda count, left: (
                f"{count} failed deliveries queued again"
                + (f"; {left} were not failed and were left as they are." if left else ".")
            ),
        )
    ]


class MoveInline(admin.TabularInline[StageMove, TicketLink]):
    model = StageMove
    extra = 0
    fields = ["at", "previous", "stage", "source", "note"]
    readonly_fields = ["at", "previous", "stage", "source", "note"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TicketLink)
class TicketLinkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[TicketLink]):
    """Links are made and ended in the console; here is their history."""

    list_display = ["ticket", "issue", "stage", "linked_at", "unlinked_at"]
    list_filter = ["stage"]
    list_select_related = ["ticket", "issue"]
    inlines = [MoveInline]


@admin.register(EngineeringIssue)
class EngineeringIssueAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[EngineeringIssue]):
    list_display = ["key", "connection", "state", "tracker_link", "in_production_at"]
    list_select_related = ["connection"]
    search_fields = ["key", "tracker_id", "title"]

    @admin.display(description="In the tracker")
    def tracker_link(self, obj: EngineeringIssue) -> str:
        return (
            format_html('<a href="{}" rel="noopener">{}</a>', obj.url, obj.url) if obj.url else ""
        )


class NoteTemplateForm(forms.ModelForm[NoteTemplate]):
    class Meta:
        model = NoteTemplate
        fields = ["stage", "text"]

    def clean_text(self) -> str:
        text: str = self.cleaned_data["text"]
        problem = template_problem(text)
        if problem:
            raise forms.ValidationError(problem)
        return text


@admin.register(NoteTemplate)
class NoteTemplateAdmin(admin.ModelAdmin[NoteTemplate]):
    """The wording of a stage's customer-visible note: {key}, {stage}, {url}, {title}."""

    form = NoteTemplateForm
    list_display = ["stage", "text"]
