from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from supporthub.staff.models import StaffMember, StaffRole


@admin.register(StaffRole)
class StaffRoleAdmin(admin.ModelAdmin[StaffRole]):
    list_display = ["__str__", "code"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the roles are fixed; the policy names them

    def has_delete_permission(self, request: HttpRequest, obj: StaffRole | None = None) -> bool:
        return False


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin[StaffMember]):
    list_display = [
        "display_name",
        "user",
        "role_list",
        "region",
        "time_zone",
        "holiday_country",
        "is_active",
    ]
    list_filter = ["roles", "region", "is_active"]
    search_fields = ["display_name", "user__username", "user__email"]
    filter_horizontal = ["roles"]
    autocomplete_fields = ["user"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StaffMember]:
        return super().get_queryset(request).select_related("user").prefetch_related("roles")

    @admin.display(description="roles")
    def role_list(self, obj: StaffMember) -> str:
        return ", ".join(str(r) for r in obj.roles.all())
