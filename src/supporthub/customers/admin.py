from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from supporthub.customers import services
from supporthub.customers.models import (
    LifecycleTransition,
    Organisation,
    OrganisationMember,
    Subscription,
    SupportContact,
)
from supporthub.validators import normalise_phone


class SupportContactInline(admin.TabularInline[SupportContact, Organisation]):
    model = SupportContact
    fields = ["name", "email", "phone", "is_active"]
    readonly_fields = ["name", "email", "phone", "is_active"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # adds go through the Support Contact page, which enforces the cap


class SubscriptionInline(admin.TabularInline[Subscription, Organisation]):
    model = Subscription
    fields = ["policy", "level", "term_start", "term_end", "billing_term", "deployment"]
    readonly_fields = ["policy", "level", "term_start", "term_end", "billing_term", "deployment"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TransitionInline(admin.TabularInline[LifecycleTransition, Organisation]):
    model = LifecycleTransition
    fields = ["at", "from_stage", "to_stage", "project_manager", "account_manager", "actor"]
    readonly_fields = [
        "at",
        "from_stage",
        "to_stage",
        "project_manager",
        "account_manager",
        "actor",
    ]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    list_display = ["name", "country", "time_zone", "stage", "account_manager", "project_manager"]
    list_filter = ["stage", "country", "account_manager"]
    search_fields = ["name"]
    readonly_fields = ["stage", "primary_staff_contact", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "stage", "primary_staff_contact"]}),
        (
            "Order-form location",
            {"fields": ["country", "subdivision", "time_zone"]},
        ),
        (
            "Holidays",
            {
                "fields": ["holiday_country", "holiday_subdivision"],
                "description": "Leave empty to use the holiday country of the policy.",
            },
        ),
        ("People", {"fields": ["project_manager", "account_manager"]}),
    ]
    inlines = [SubscriptionInline, SupportContactInline, TransitionInline]
    actions = ["move_to_customer_success"]

    def save_model(self, request: HttpRequest, obj: Organisation, form: Any, change: bool) -> None:
        if not change and obj.project_manager_id:
            obj.primary_staff_contact = obj.project_manager
        # A new zone or holiday place re-times the open tickets.
        result = services.organisation_save(organisation=obj)
        if result.retimed:
            self.message_user(
                request,
                f"The calendar changed: {result.retimed} open ticket(s) were re-timed.",
                messages.INFO,
            )

    @admin.action(description="Move to customer success (the account manager becomes primary)")
    def move_to_customer_success(
        self, request: HttpRequest, queryset: QuerySet[Organisation]
    ) -> None:
        for organisation in queryset.select_related("account_manager"):
            if organisation.account_manager is None:
                self.message_user(
                    request,
                    f"{organisation}: set its CS account manager first.",
                    messages.ERROR,
                )
                continue
            try:
                services.organisation_move_to_customer_success(
                    organisation=organisation,
                    account_manager=organisation.account_manager,
                    actor=request.user,
                )
            except ValidationError as exc:
                self.message_user(
                    request, f"{organisation}: {' '.join(exc.messages)}", messages.ERROR
                )
            else:
                self.message_user(request, f"{organisation} moved to customer success.")


class SubscriptionForm(forms.ModelForm[Subscription]):
    class Meta:
        model = Subscription
        fields = [
            "organisation",
            "policy",
            "level",
            "term_start",
            "term_end",
            "billing_term",
            "deployment",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        # The subscription as it would be saved, the form's own instance left untouched.
        candidate = copy.copy(self.instance)
        for field, value in data.items():
            setattr(candidate, field, value)
        try:
            candidate.full_clean()
        except ValidationError:
            return data  # the model's own errors: the form's model validation reports them
        try:
            services.subscription_check_policy(subscription=candidate)
        except ValidationError as exc:
            self.add_error(None, exc)
        return data


class CapAwareAdmin(admin.ModelAdmin[Any]):
    """Turns a cap refusal found under the row lock into a message, not a server error."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except services.ContactCapError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Subscription)
class SubscriptionAdmin(CapAwareAdmin):
    form = SubscriptionForm
    list_display = ["organisation", "policy", "level", "term_start", "term_end", "billing_term"]
    list_filter = ["policy", "level", "billing_term", "deployment"]
    search_fields = ["organisation__name"]
    autocomplete_fields = ["organisation"]
    date_hierarchy = "term_start"

    def save_model(self, request: HttpRequest, obj: Subscription, form: Any, change: bool) -> None:
        services.subscription_save(subscription=obj)


class SupportContactForm(forms.ModelForm[SupportContact]):
    class Meta:
        model = SupportContact
        fields = ["organisation", "name", "email", "phone", "time_zone", "user"]

    def clean_phone(self) -> str:
        phone: str = self.cleaned_data.get("phone", "")
        return normalise_phone(phone) if phone else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        organisation = data.get("organisation")
        if organisation is None:
            return data
        if self.instance.pk is None:
            try:
                services.check_room_for_one_more(organisation)
            except ValidationError as exc:
                raise ValidationError(exc.messages) from None
        elif self.instance.is_active and organisation.pk != self.instance.organisation_id:
            # Moved: an active contact takes one of the new organisation's Support Contacts.
            # (The service checks again under the row lock.)
            try:
                services.check_room_for_one_more(organisation)
            except ValidationError as exc:
                self.add_error("organisation", exc.messages)
        return data


@admin.register(SupportContact)
class SupportContactAdmin(CapAwareAdmin):
    form = SupportContactForm
    list_display = ["name", "email", "phone", "organisation", "is_active", "retired_at"]
    list_filter = ["is_active", "organisation"]
    search_fields = ["name", "email", "phone", "organisation__name"]
    autocomplete_fields = ["organisation", "user"]
    readonly_fields = ["is_active", "retired_at", "created_at"]
    actions = ["retire", "reactivate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SupportContact]:
        return super().get_queryset(request).select_related("organisation")

    def save_model(
        self, request: HttpRequest, obj: SupportContact, form: Any, change: bool
    ) -> None:
        # Every field the form edits reaches the service (SupportContactForm.Meta.fields).
        if change:
            services.support_contact_update(
                contact=obj,
                organisation=obj.organisation,
                name=obj.name,
                email=obj.email,
                phone=obj.phone,
                time_zone=obj.time_zone,
                user=obj.user,
            )
            return
        created = services.support_contact_add(
            organisation=obj.organisation,
            name=obj.name,
            email=obj.email,
            phone=obj.phone,
            user=obj.user,
            time_zone=obj.time_zone,
        )
        obj.pk = created.pk

    @admin.action(description="Retire the selected Support Contacts")
    def retire(self, request: HttpRequest, queryset: QuerySet[SupportContact]) -> None:
        for contact in queryset:
            services.support_contact_retire(contact=contact)
        self.message_user(request, f"Retired {queryset.count()} Support Contact(s).")

    @admin.action(description="Reactivate the selected Support Contacts (within the cap)")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[SupportContact]) -> None:
        for contact in queryset.select_related("organisation"):
            try:
                services.support_contact_reactivate(contact=contact)
            except ValidationError as exc:
                self.message_user(
                    request, f"{contact.name}: {' '.join(exc.messages)}", messages.ERROR
                )
            else:
                self.message_user(request, f"{contact.name} is active again.")


@admin.register(LifecycleTransition)
class LifecycleTransitionAdmin(admin.ModelAdmin[LifecycleTransition]):
    list_display = ["organisation", "from_stage", "to_stage", "account_manager", "actor", "at"]
    list_filter = ["to_stage"]
    search_fields = ["organisation__name"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(OrganisationMember)
class OrganisationMemberAdmin(admin.ModelAdmin[OrganisationMember]):
    """Read-only Support Hub logins: people of a customer who follow tickets but are not
    Support Contacts (they do not count against the contact cap)."""

    list_display = ["name", "organisation", "user", "time_zone", "created_at"]
    list_filter = ["organisation"]
    search_fields = ["name", "user__username", "user__email", "organisation__name"]
    autocomplete_fields = ["organisation", "user"]
