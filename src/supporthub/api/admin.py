"""API tokens in the back office: made here or with `supporthub api-token create`; the token
is shown once, on the page that follows its creation, and only its hash is kept."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from supporthub.access import viewer_for
from supporthub.api.models import ApiToken
from supporthub.api.services import api_token_revoke, api_token_secret


class ApiTokenCreationForm(forms.ModelForm[ApiToken]):
    class Meta:
        model = ApiToken
        fields = ["name", "organisation", "staff_user"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        organisation, staff_user = data.get("organisation"), data.get("staff_user")
        if (organisation is None) == (staff_user is None):
            raise forms.ValidationError(
                "Choose an organisation (the token acts for it) or a staff login (the token "
                "acts as it), not both."
            )
        if staff_user is not None:
            viewer = viewer_for(staff_user)
            if viewer is None or not viewer.is_staff:
                self.add_error("staff_user", f"{staff_user} is not an active staff login.")
        return data


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["prefix", "name", "scope", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "organisation__name", "staff_user__username"]
    list_select_related = ["organisation", "staff_user"]
    actions = ["revoke"]
    form = ApiTokenCreationForm
    _shown = [
        "name",
        "prefix",
        "key_hash",
        "organisation",
        "staff_user",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]

    @admin.display(description="acts")
    def scope(self, token: ApiToken) -> str:
        if token.organisation is not None:
            return f"for {token.organisation}"
        return f"as {token.staff_user}"

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        return ("name", "organisation", "staff_user") if obj is None else tuple(self._shown)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        # Only the label changes after creation; the hash is never editable.
        return [] if obj is None else [f for f in self._shown if f != "name"]

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # revoke instead: the row explains past uses

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if not change:
            obj._raw_token = api_token_secret(obj)  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        raw = getattr(obj, "_raw_token", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": "API token created",
            "token": obj,
            "raw": raw,
            "opts": self.opts,
        }
        response = TemplateResponse(request, "api/admin_token_created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        now = timezone.now()
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token, at=now)
            count += 1
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
