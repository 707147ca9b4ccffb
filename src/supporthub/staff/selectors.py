"""Reads on staff."""

from __future__ import annotations

from django.db.models import QuerySet

from supporthub.staff.models import StaffMember


def staff_with_role(role: str) -> QuerySet[StaffMember]:
    """Active staff holding `role`, with their logins, by name."""
    return (
        StaffMember.objects.filter(is_active=True, roles__code=role)
        .select_related("user")
        .distinct()
        .order_by("display_name", "pk")
    )
