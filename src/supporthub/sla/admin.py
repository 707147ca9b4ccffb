from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from supporthub.sla import closures
from supporthub.sla.models import Closure


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin[Closure]):
    """Adding or removing a closure re-times every open ticket whose calendar it touches."""

    list_display = ["date", "name", "holiday_country", "organisation"]
    list_filter = ["holiday_country"]
    search_fields = ["name", "organisation__name"]
    autocomplete_fields = ["organisation"]
    date_hierarchy = "date"

    def save_model(self, request: HttpRequest, obj: Closure, form: Any, change: bool) -> None:
        result = closures.closure_save(closure=obj)
        self.message_user(request, f"{result.retimed} open ticket(s) re-timed.", messages.INFO)

    def delete_model(self, request: HttpRequest, obj: Closure) -> None:
        result = closures.closure_delete(closure=obj)
        self.message_user(request, f"{result.retimed} open ticket(s) re-timed.", messages.INFO)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        retimed = sum(closures.closure_delete(closure=c).retimed for c in queryset)
        self.message_user(request, f"{retimed} open ticket(s) re-timed.", messages.INFO)
