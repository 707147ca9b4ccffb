"""Staff members and their roles."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from supporthub.validators import clean_holiday_place, validate_time_zone


class Role(models.TextChoices):
    SUPPORT_ENGINEER = "support_engineer", "Support engineer"
    CS_ACCOUNT_MANAGER = "cs_account_manager", "CS account manager"
    CS_LEAD = "cs_lead", "CS lead"
    PROJECT_MANAGER = "project_manager", "Project manager"
    SALES_REP = "sales_rep", "Sales rep"
    ENHANCEMENT_COMMITTEE = "enhancement_committee", "Enhancement committee member"


class StaffRole(models.Model):
    """One of the fixed roles; a table so a staff member can hold several."""

    code = models.CharField(max_length=40, choices=Role.choices, unique=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return Role(self.code).label


class StaffMember(models.Model):
    """A vendor-side person who works tickets; linked one-to-one to a login."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_member"
    )
    display_name = models.CharField(max_length=200)
    roles = models.ManyToManyField(StaffRole, related_name="members", blank=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone], help_text="IANA zone"
    )
    region = models.CharField(
        max_length=40, blank=True, help_text="Support region key from the policy (e.g. us, eu)"
    )
    # The engineer's own calendar (a Designated Support Engineer's Business Days are "in the
    # location of the Designated Support Engineer"): national holidays of this place.
    holiday_country = models.CharField(
        max_length=2,
        blank=True,
        help_text="Country whose national holidays are this engineer's days off (ISO 3166)",
    )
    holiday_subdivision = models.CharField(
        max_length=10, blank=True, help_text="Optional state or province for holidays, e.g. BY"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["display_name"]
        verbose_name = "staff member"

    def __str__(self) -> str:
        return self.display_name

    def clean(self) -> None:
        clean_holiday_place(self.holiday_country, self.holiday_subdivision)

    def has_role(self, role: Role) -> bool:
        return any(r.code == role for r in self.roles.all())
