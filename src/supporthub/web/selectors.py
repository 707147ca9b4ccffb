"""Reads for the landing page."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.utils import timezone

from supporthub.customers.models import Organisation
from supporthub.policies.selectors import latest_policy_versions
from supporthub.sla.selectors import running_clocks


def home_overview() -> dict[str, Any]:
    versions = latest_policy_versions()
    organisations = Organisation.objects.annotate(
        contacts=Count("support_contacts", distinct=True)
    ).order_by("name")
    running = running_clocks().select_related("organisation").order_by("first_response_due_at")[:20]
    return {
        "policies": [(v, v.document()) for v in versions],
        "organisations": organisations,
        "running": running,
        "now": timezone.now(),
    }
