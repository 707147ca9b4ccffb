"""Reads for the landing page."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from supporthub.customers.models import Organisation
from supporthub.policies.selectors import latest_policy_versions


def home_overview() -> dict[str, Any]:
    versions = latest_policy_versions()
    organisations = Organisation.objects.annotate(
        contacts=Count("support_contacts", distinct=True)
    ).order_by("name")
    return {"policies": [(v, v.document()) for v in versions], "organisations": organisations}
