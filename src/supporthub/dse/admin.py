"""The back office of the package: engagements (set-up, renewal by agreement), absences and
company holidays; time entries, warnings, substitutions and coverage to read."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from supporthub.actors import actor_user
from supporthub.admin_base import ReadOnlyAdminMixin
from supporthub.dse.models import (
    Absence,
    AbsenceKind,
    Coverage,
    Engagement,
    Substitution,
    TimeEntry,
    UsageWarning,
)
from supporthub.dse.services import (
    administrative_days_check,
    engagement_check,
    engagement_cover,
    subscriptions_recount,
)


class EngagementForm(forms.ModelForm[Engagement]):
    class Meta:
        model = Engagement
        fields = [
            "organisation",
            "engineer",
            "subscriptions",
            "sku",
            "start",
            "end",
            "monthly_limit_hours",
            "renewal_of",
            "agreement",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.fields["monthly_limit_hours"]
        limit.required = False
        limit.help_text = "The hours purchased per month; blank: the policy's (25)"
        if self.instance.pk is not None:
            # The engineer changes by substitution (console), which keeps the history.
            self.fields["engineer"].disabled = True
            self.fields["engineer"].help_text = (
                "Substitute the engineer from the engagement's console page: the history, the "
                "open cases and the customer's notice go with it."
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            _, limit = engagement_check(
                organisation=data["organisation"],
                engineer=data["engineer"],
                subscriptions=list(data["subscriptions"]),
                sku=data["sku"],
                start=data["start"],
                end=data["end"],
                monthly_limit_hours=data.get("monthly_limit_hours"),
                renewal_of=data.get("renewal_of"),
                exclude=self.instance if self.instance.pk is not None else None,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
            return data
        if data.get("renewal_of") is not None and not (data.get("agreement") or "").strip():
            self.add_error("agreement", "A renewal is by mutual agreement only: name it.")
        data["monthly_limit_hours"] = limit
        self.instance.monthly_limit_hours = limit
        return data


@admin.register(Engagement)
class EngagementAdmin(admin.ModelAdmin[Engagement]):
    form = EngagementForm
    list_display = ["organisation", "engineer", "start", "end", "monthly_limit_hours", "sku"]
    list_filter = ["engineer"]
    search_fields = ["organisation__name", "engineer__display_name"]
    autocomplete_fields = ["organisation", "renewal_of"]
    filter_horizontal = ["subscriptions"]
    readonly_fields = ["created_by", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Engagement]:
        return super().get_queryset(request).select_related("organisation", "engineer")

    def save_model(self, request: HttpRequest, obj: Engagement, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = actor_user(request.user)
            obj.created_at = timezone.now()
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        engagement_cover(
            engagement=form.instance, subscriptions=list(form.cleaned_data["subscriptions"])
        )

    def delete_model(self, request: HttpRequest, obj: Engagement) -> None:
        covered = set(obj.subscriptions.values_list("pk", flat=True))
        super().delete_model(request, obj)
        subscriptions_recount(covered)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Engagement]) -> None:
        links = Engagement.subscriptions.through.objects.filter(engagement__in=queryset)
        covered = set(links.values_list("subscription_id", flat=True))
        super().delete_queryset(request, queryset)
        subscriptions_recount(covered)


class AbsenceForm(forms.ModelForm[Absence]):
    class Meta:
        model = Absence
        fields = [
            "kind",
            "engineer",
            "holiday_country",
            "holiday_subdivision",
            "start",
            "end",
            "note",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors or data.get("kind") != AbsenceKind.ADMINISTRATIVE_DAY:
            return data
        candidate = Absence(
            pk=self.instance.pk,
            kind=data["kind"],
            engineer=data.get("engineer"),
            start=data["start"],
            end=data["end"],
        )
        try:
            administrative_days_check(candidate)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return data


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin[Absence]):
    form = AbsenceForm
    list_display = ["kind", "engineer", "holiday_country", "holiday_subdivision", "start", "end"]
    list_filter = ["kind", "holiday_country", "engineer"]
    date_hierarchy = "start"
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: Absence, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = actor_user(request.user)
            obj.created_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(TimeEntry)
class TimeEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[TimeEntry]):
    list_display = ["date", "engagement", "ticket", "engineer", "minutes", "over_limit"]
    list_filter = ["over_limit", "counts_toward_limit", "engineer"]
    date_hierarchy = "date"

    def get_queryset(self, request: HttpRequest) -> QuerySet[TimeEntry]:
        return (
            super()
            .get_queryset(request)
            .select_related(
                "engagement__organisation", "engagement__engineer", "ticket", "engineer"
            )
        )


@admin.register(UsageWarning)
class UsageWarningAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[UsageWarning]):
    list_display = ["engagement", "month", "threshold", "minutes_used", "at"]


@admin.register(Substitution)
class SubstitutionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Substitution]):
    list_display = ["engagement", "from_engineer", "to_engineer", "at", "cases_moved", "reason"]


@admin.register(Coverage)
class CoverageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Coverage]):
    list_display = ["ticket", "engagement", "reason", "region", "at", "until"]
