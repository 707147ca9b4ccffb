"""Reads: which policy version is in force, and the latest version of each policy."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import OuterRef, Subquery

from supporthub.policies.models import PolicyVersion


class PolicyNotInForce(ObjectDoesNotExist):
    """No version of the policy takes effect on or before the date asked about."""


def policy_version_in_force(*, policy_key: str, on: date) -> PolicyVersion:
    """The version with the greatest effective date on or before `on`."""
    version = (
        PolicyVersion.objects.filter(policy__key=policy_key, effective_date__lte=on)
        .select_related("policy")
        .order_by("-effective_date")
        .first()
    )
    if version is not None:
        return version
    first = (
        PolicyVersion.objects.filter(policy__key=policy_key)
        .order_by("effective_date")
        .values_list("effective_date", flat=True)
        .first()
    )
    if first is None:
        raise PolicyNotInForce(f'no policy "{policy_key}" is loaded')
    raise PolicyNotInForce(
        f'policy "{policy_key}" is not in force on {on.isoformat()}: its first version '
        f"takes effect on {first.isoformat()}"
    )


def latest_policy_versions() -> list[PolicyVersion]:
    """The most recent version (greatest effective date) of every policy, by policy key."""
    latest = (
        PolicyVersion.objects.filter(policy=OuterRef("policy"))
        .order_by("-effective_date")
        .values("pk")[:1]
    )
    return list(
        PolicyVersion.objects.filter(pk=Subquery(latest))
        .select_related("policy")
        .order_by("policy__key")
    )


def policy_versions() -> list[PolicyVersion]:
    """Every stored version, by policy key then effective date."""
    return list(
        PolicyVersion.objects.select_related("policy")
        .defer("source_text")
        .order_by("policy__key", "effective_date")
    )


def policy_version_number(*, version: PolicyVersion) -> int:
    """1 for a policy's first version, 2 for the next, ... (by effective date)."""
    return PolicyVersion.objects.filter(
        policy_id=version.policy_id, effective_date__lte=version.effective_date
    ).count()
