from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from supporthub.admin_base import ReadOnlyAdminMixin
from supporthub.routing.delivery import DELIVERIES
from supporthub.routing.models import (
    Page,
    PageDelivery,
    Rotation,
    RotationMember,
    RotationOverride,
)
from supporthub.worker.queue import RetryPermission, retry_action


class MemberInline(admin.TabularInline[RotationMember, Rotation]):
    model = RotationMember
    extra = 1
    autocomplete_fields = ["staff"]


class OverrideInline(admin.TabularInline[RotationOverride, Rotation]):
    model = RotationOverride
    extra = 1
    autocomplete_fields = ["staff"]
    fields = ["staff", "starts_at", "ends_at", "reason"]


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin[Rotation]):
    """Members take turns in position order; overrides are one-off swaps."""

    list_display = ["name", "region", "time_zone", "handoff_weekday", "handoff_time", "starts_on"]
    search_fields = ["name"]
    readonly_fields = ["feed_token"]
    inlines = [MemberInline, OverrideInline]


_DELIVERY_FIELDS = (
    "transport",
    "action",
    "state",
    "attempts",
    "last_status",
    "last_error",
    "next_attempt_at",
    "sent_at",
    "delivery_id",
)


class DeliveryInline(admin.TabularInline[PageDelivery, Page]):
    model = PageDelivery
    extra = 0
    can_delete = False
    fields = readonly_fields = _DELIVERY_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Page)
class PageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Page]):
    """After-hours pages: written by the ticket services, read-only here."""

    list_display = ["created_at", "ticket", "region", "rotation", "engineer", "resolved_at"]
    list_filter = ["region", "rotation"]
    list_select_related = ["ticket", "rotation", "engineer"]
    search_fields = ["ticket__subject", "engineer__display_name"]
    inlines = [DeliveryInline]


@admin.register(PageDelivery)
class PageDeliveryAdmin(RetryPermission, ReadOnlyAdminMixin, admin.ModelAdmin[PageDelivery]):
    """Deliveries of pages to PagerDuty and webhooks; the one thing to do is retry failures."""

    list_display = [
        "created_at",
        "page",
        "transport",
        "action",
        "state",
        "attempts",
        "last_status",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["state", "transport", "action"]
    list_select_related = ["page"]
    search_fields = ["delivery_id", "last_error"]
    actions = [
        retry_action(
            DELIVERIES,
            description="Retry the selected failed deliveries",
            message=lambda count, left: f"{count} failed deliveries queued again.",
        )
    ]
