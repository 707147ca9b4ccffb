"""Reads: which policy version is in force, and the latest version of each policy."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import JSONField, OuterRef, Subquery
from django.db.models.functions import JSONObject

from supporthub.policies.models import Policy, PolicyVersion


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


# What a caller's query reads of the version in force, in its own statement (the entitlement
# read of ticket creation): everything but the text, which is loaded only if this process
# has not parsed that version yet.
_IN_FORCE_FIELDS = ("id", "effective_date", "sha256", "source_name")


def policy_version_in_force_subquery(*, policy: OuterRef, on: date) -> Subquery:
    """For another app's query: the version of `policy` (an outer reference to a policy's
    primary key) in force on `on`, as a JSON object of its fields (NULL when none is); turn it
    into the version with `policy_version_from_subquery`."""
    return Subquery(
        PolicyVersion.objects.filter(policy_id=policy, effective_date__lte=on)
        .order_by("-effective_date", "-pk")
        .values(fields=JSONObject(**{name: name for name in _IN_FORCE_FIELDS}))[:1],
        output_field=JSONField(),
    )


def policy_version_from_subquery(
    fields: dict[str, Any] | None, *, policy: Policy
) -> PolicyVersion | None:
    """The version that `policy_version_in_force_subquery` read (its text deferred), with its
    policy in hand; None when no version was in force."""
    if fields is None:
        return None
    effective = fields["effective_date"]
    read = {
        **fields,
        "policy_id": policy.pk,
        "effective_date": effective
        if isinstance(effective, date)
        else date.fromisoformat(effective),
    }
    # from_db takes the values in the order of the model's fields, the others deferred.
    names = [f.attname for f in PolicyVersion._meta.concrete_fields if f.attname in read]
    version = PolicyVersion.from_db(PolicyVersion.objects.db, names, [read[n] for n in names])
    version.policy = policy
    return version
