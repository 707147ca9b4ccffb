"""On-call rotations: ordered members, a weekly hand-off at a local time, one-off overrides."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from supporthub.validators import validate_time_zone


def _feed_token() -> str:
    return secrets.token_urlsafe(24)


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Rotation(models.Model):
    """Who is paged after hours: members take turns, handing off weekly at a local time."""

    name = models.CharField(max_length=100, unique=True)
    region = models.CharField(
        max_length=40, blank=True, help_text="Support region key from the policy (e.g. us, eu)"
    )
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], help_text="IANA zone of the hand-off"
    )
    handoff_weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices, default=Weekday.MONDAY
    )
    handoff_time = models.TimeField(help_text="Local wall time of the weekly hand-off")
    starts_on = models.DateField(
        help_text="The first hand-off's date: the first member is on call from then"
    )
    # The secret in the calendar feed's address: calendar apps cannot log in.
    feed_token = models.CharField(max_length=64, unique=True, default=_feed_token)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.starts_on and self.starts_on.weekday() != self.handoff_weekday:
            raise ValidationError(
                {
                    "starts_on": f"{self.starts_on:%A %d %B %Y} is not a "
                    f"{Weekday(self.handoff_weekday).label}, the hand-off day."
                }
            )


class RotationMember(models.Model):
    """One place in a rotation's order."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    staff = models.ForeignKey("staff.StaffMember", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["rotation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["rotation", "position"], name="rotation_member_position_unique"
            ),
            models.UniqueConstraint(fields=["rotation", "staff"], name="rotation_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.rotation}: {self.position}. {self.staff}"


class RotationOverride(models.Model):
    """A one-off swap: this person is on call between these instants, whoever's turn it is."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="overrides")
    staff = models.ForeignKey("staff.StaffMember", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rotation", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="rotation_override_ends_after_start",
                violation_error_message="An override must end after it starts.",
            )
        ]

    def __str__(self) -> str:
        span = f"{self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M}"
        return f"{self.rotation}: {self.staff} {span}"
