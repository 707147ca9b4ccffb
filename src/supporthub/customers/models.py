"""Organisations (customer accounts), their subscriptions and named Support Contacts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from supporthub.validators import (
    clean_holiday_place,
    validate_country,
    validate_e164,
    validate_time_zone,
)


class Stage(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    CUSTOMER_SUCCESS = "customer_success", "Customer success"


class Organisation(models.Model):
    """A customer account; its order-form location decides its time zone and holidays."""

    name = models.CharField(max_length=200, unique=True)
    country = models.CharField(
        max_length=2, validators=[validate_country], help_text="Order-form location (ISO 3166)"
    )
    subdivision = models.CharField(
        max_length=10, blank=True, help_text="Order-form state or province, e.g. CA"
    )
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="IANA zone of the order-form location; Business Hours are counted in it",
    )
    holiday_country = models.CharField(
        max_length=2,
        blank=True,
        help_text="Overrides the policy's holiday country (the place support is provided from)",
    )
    holiday_subdivision = models.CharField(max_length=10, blank=True)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.ONBOARDING)
    project_manager = models.ForeignKey(
        "staff.StaffMember",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="managed_projects",
    )
    account_manager = models.ForeignKey(
        "staff.StaffMember",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="managed_accounts",
        verbose_name="CS account manager",
    )
    primary_staff_contact = models.ForeignKey(
        "staff.StaffMember",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="primary_for",
        help_text="The project manager while onboarding, the account manager after",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        clean_holiday_place(self.holiday_country, self.holiday_subdivision)


class LifecycleTransition(models.Model):
    """A recorded move of an organisation between lifecycle stages: who and when."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="transitions"
    )
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    project_manager = models.ForeignKey(
        "staff.StaffMember", on_delete=models.PROTECT, null=True, related_name="+"
    )
    account_manager = models.ForeignKey(
        "staff.StaffMember", on_delete=models.PROTECT, null=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.from_stage} → {self.to_stage} at {self.at:%Y-%m-%d}"


class BillingTerm(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    ANNUAL = "annual", "Annual"
    MULTI_YEAR = "multi_year", "Multi-year"


class Deployment(models.TextChoices):
    CLOUD = "cloud", "Cloud"
    SELF_MANAGED = "self_managed", "Self-managed"


class Subscription(models.Model):
    """A subscription at a level of a policy; the one in force decides the support level."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="subscriptions"
    )
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="+")
    level = models.CharField(
        max_length=40, help_text="Subscription level key of the policy, e.g. gold, platinum"
    )
    term_start = models.DateField()
    term_end = models.DateField()
    billing_term = models.CharField(max_length=20, choices=BillingTerm.choices)
    deployment = models.CharField(
        max_length=20, choices=Deployment.choices, default=Deployment.CLOUD
    )

    class Meta:
        ordering = ["organisation__name", "-term_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(term_end__gte=models.F("term_start")),
                name="subscription_term_ends_after_start",
                violation_error_message="The term must end on or after its start.",
            )
        ]
        indexes = [models.Index(fields=["organisation", "term_start", "term_end"])]

    def __str__(self) -> str:
        return f"{self.organisation} – {self.level} ({self.term_start} to {self.term_end})"


class SupportContact(models.Model):
    """A named individual authorised to open incidents for an organisation."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="support_contacts"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(
        max_length=20, blank=True, validators=[validate_e164], help_text="E.164, e.g. +14155550100"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="IANA zone the Support Hub shows times in; blank: the organisation's",
    )
    is_active = models.BooleanField(default=True, verbose_name="active")
    retired_at = models.DateTimeField(null=True, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="support_contact",
        help_text="The login this contact uses for the Support Hub",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation__name", "name"]
        verbose_name = "support contact"
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "email"],
                name="support_contact_email_unique_per_organisation",
                violation_error_message="This organisation already has a contact with that email.",
            )
        ]
        indexes = [
            models.Index(fields=["email"]),
            # Mail and voicemail find the sender by address in any case (email__iexact).
            models.Index(Upper("email"), name="support_contact_email_upper"),
            models.Index(fields=["phone"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}> ({self.organisation})"


class OrganisationMember(models.Model):
    """Someone of a customer organisation who reads its tickets in the Support Hub but is
    not a Support Contact, so cannot open incidents."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="members")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organisation_member"
    )
    name = models.CharField(max_length=200)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="IANA zone the Support Hub shows times in; blank: the organisation's",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation__name", "name"]
        verbose_name = "organisation member (read-only Hub login)"

    def __str__(self) -> str:
        return f"{self.name} ({self.organisation}, read-only)"
