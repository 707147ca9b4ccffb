"""Policies are read-only in the admin: a change is a new file loaded with `policy load`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from supporthub.policies.models import Policy, PolicyVersion

READ_ONLY_NOTE = (
    "Policy versions are read-only here: change a policy with `supporthub policy load`."
)

# django-stubs makes inlines generic, but django_stubs_ext does not patch them for runtime.
if TYPE_CHECKING:
    _Inline = admin.TabularInline[PolicyVersion, Policy]
else:
    _Inline = admin.TabularInline


class PolicyVersionInline(_Inline):
    model = PolicyVersion
    fields = readonly_fields = ("effective_date", "source_name", "sha256", "loaded_at")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Policy | None = None) -> bool:
        return False


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin[Policy]):
    list_display = ["key", "name", "version_count"]
    search_fields = ["key", "name"]
    readonly_fields = ["key", "name"]
    inlines = [PolicyVersionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Policy]:
        return super().get_queryset(request).annotate(version_total=Count("versions"))

    @admin.display(description="versions", ordering="version_total")
    def version_count(self, obj: Policy) -> int:
        return int(getattr(obj, "version_total", 0))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # policies come into being by loading a file

    def has_change_permission(self, request: HttpRequest, obj: Policy | None = None) -> bool:
        return False  # the name follows the latest loaded file

    def has_delete_permission(self, request: HttpRequest, obj: Policy | None = None) -> bool:
        return False  # tickets are measured against its versions


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin[PolicyVersion]):
    list_display = ["policy", "effective_date", "source_name", "short_sha256", "loaded_at"]
    list_filter = ["policy", "effective_date"]
    list_select_related = ["policy"]
    search_fields = ["policy__key", "policy__name", "source_name", "sha256"]
    date_hierarchy = "effective_date"
    fields = readonly_fields = (
        "policy",
        "effective_date",
        "source_name",
        "sha256",
        "loaded_at",
        "source",
    )

    @admin.display(description="sha256")
    def short_sha256(self, obj: PolicyVersion) -> str:
        return obj.sha256[:12]

    @admin.display(description="source text")
    def source(self, obj: PolicyVersion) -> str:
        return format_html(
            '<p class="help">{}</p><pre style="white-space: pre-wrap">{}</pre>',
            READ_ONLY_NOTE,
            obj.source_text,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PolicyVersion | None = None) -> bool:
        return False  # a version never changes; viewing needs only the view permission

    def has_delete_permission(self, request: HttpRequest, obj: PolicyVersion | None = None) -> bool:
        return False
