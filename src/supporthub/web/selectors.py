"""Reads for the landing page, each asked for a viewer: nothing is listed that the viewer
may not see."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.customers.models import Organisation
from supporthub.policies.selectors import latest_policy_versions
from supporthub.tickets.selectors import running_clocks, tickets_visible_to


def organisations_visible_to(viewer: Viewer) -> QuerySet[Organisation]:
    """Staff who work every ticket see every organisation; other staff the organisations
    they manage (as account or project manager); anyone else none."""
    organisations = Organisation.objects.all()
    if viewer.sees_all_tickets:
        return organisations
    if viewer.staff is not None:
        return organisations.filter(
            Q(account_manager=viewer.staff) | Q(project_manager=viewer.staff)
        )
    return organisations.none()


def home_overview(viewer: Viewer) -> dict[str, Any]:
    """The staff overview: the running clocks the viewer may see (earliest due first), the
    policies in force, and the viewer's organisations."""
    versions = latest_policy_versions()
    organisations = (
        organisations_visible_to(viewer)
        .annotate(contacts=Count("support_contacts", distinct=True))
        .order_by("name")
    )
    running = (
        (tickets_visible_to(viewer) & running_clocks())
        .select_related("organisation")
        .order_by("first_response_due_at")[:20]
    )
    return {
        "policies": [(v, v.document()) for v in versions],
        "organisations": organisations,
        "running": running,
        "now": timezone.now(),
    }


def logins_for_verified_email(email: str) -> QuerySet[User]:
    """The active logins single sign-on may match to `email`: an active staff member's (by
    the login's address) or an active Support Contact's (by the contact's address)."""
    return User.objects.filter(
        Q(staff_member__is_active=True, email__iexact=email)
        | Q(support_contact__is_active=True, support_contact__email__iexact=email),
        is_active=True,
    ).distinct()
