"""Reads: which policy version is in force, and the latest version of each policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import OuterRef, Subquery

from supporthub import rows
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


@dataclass(frozen=True)
class InForceSQL:
    """The policies app's part of another app's hand-written read (see supporthub.rows): the
    policy whose primary key is a column of the caller's row, and its version in force on a
    date, everything but the version's text (loaded only if this process has not parsed it).

    `joins` goes after the caller's FROM and takes the date (ISO text) as its one parameter,
    before the caller's own; `select` is `width` columns for its SELECT list, read back by
    `in_force_from_row`. The version's columns are NULL when no version is in force.
    """

    joins: str
    select: str
    width: int


_POLICY_READ = ("id", "key", "name")
_VERSION_READ = ("id", "effective_date", "sha256", "source_name")


def in_force_sql(*, policy_id: str) -> InForceSQL:
    """`policy_id`: the caller's SQL for the policy's primary key (`s."policy_id"`)."""
    policy, version = rows.table(Policy), rows.table(PolicyVersion)
    v_id = rows.column(PolicyVersion, "id")
    v_policy = rows.column(PolicyVersion, "policy_id")
    v_effective = rows.column(PolicyVersion, "effective_date")
    # Names from the models' _meta; the date is a parameter.
    joins = (
        f'LEFT JOIN {policy} p_ ON p_."{rows.column(Policy, "id")}" = {policy_id} '  # noqa: S608
        f'LEFT JOIN {version} v_ ON v_."{v_id}" = ('
        f'SELECT w_."{v_id}" FROM {version} w_ WHERE w_."{v_policy}" = {policy_id} '
        f'AND w_."{v_effective}" <= %s ORDER BY w_."{v_effective}" DESC, w_."{v_id}" DESC '
        "LIMIT 1)"
    )
    select = (
        f"{rows.columns(Policy, _POLICY_READ, alias='p_')}, "
        f"{rows.columns(PolicyVersion, _VERSION_READ, alias='v_')}"
    )
    return InForceSQL(joins=joins, select=select, width=len(_POLICY_READ) + len(_VERSION_READ))


def in_force_from_row(values: Sequence[Any], *, db: str) -> tuple[Policy, PolicyVersion | None]:
    """The policy and its version in force (None when none is) from `InForceSQL.select`'s
    columns; the version's policy is in hand."""
    policy = rows.instance(Policy, _POLICY_READ, values[: len(_POLICY_READ)], db)
    read = values[len(_POLICY_READ) :]
    if read[0] is None:
        return policy, None
    version = rows.instance(PolicyVersion, ("policy_id", *_VERSION_READ), (policy.pk, *read), db)
    version.policy = policy
    return policy, version
