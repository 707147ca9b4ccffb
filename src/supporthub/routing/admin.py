from __future__ import annotations

from django.contrib import admin

from supporthub.routing.models import Rotation, RotationMember, RotationOverride


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
