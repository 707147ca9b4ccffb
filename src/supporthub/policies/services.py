"""Writes: storing a policy file as a new version, refusing anything that would rewrite history."""

from __future__ import annotations

import hashlib

from django.db import transaction

from supporthub.policies.loader import PolicyError, PolicyIssue, load_policy
from supporthub.policies.models import Policy, PolicyVersion


class PolicyLoadError(Exception):
    """A policy file was refused; `errors` lists the file's problems when it was invalid."""

    def __init__(self, message: str, errors: list[PolicyIssue] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def policy_load(*, text: str, source_name: str) -> tuple[PolicyVersion, bool]:
    """Store `text` as a new version of its policy; (version, False) if it is already stored."""
    try:
        document = load_policy(text, source_name)
    except PolicyError as exc:
        count = len(exc.errors)
        raise PolicyLoadError(
            f"{source_name} is not a valid policy ({count} error{'s' if count != 1 else ''})",
            exc.errors,
        ) from exc
    sha256 = hashlib.sha256(text.encode()).hexdigest()
    effective = document.effective_date
    with transaction.atomic():
        # The row lock serialises concurrent loads of one policy on PostgreSQL.
        policy = Policy.objects.select_for_update().filter(key=document.key).first()
        if policy is None:
            policy = Policy(key=document.key, name=document.name)
            policy.full_clean()
            policy.save()
        versions = PolicyVersion.objects.filter(policy=policy)
        existing = versions.filter(sha256=sha256).first()
        if existing is not None:
            return existing, False
        if versions.filter(effective_date=effective).exists():
            raise PolicyLoadError(
                f"{document.key} already has a different version effective "
                f"{effective.isoformat()}; a loaded version is never rewritten, so give the "
                "changed file a later effective_date"
            )
        latest = versions.order_by("-effective_date").first()
        if latest is not None and effective < latest.effective_date:
            raise PolicyLoadError(
                f"{document.key} effective {effective.isoformat()} is earlier than the latest "
                f"loaded version (effective {latest.effective_date.isoformat()}); versions "
                "must be loaded in date order"
            )
        version = PolicyVersion(
            policy=policy,
            effective_date=effective,
            sha256=sha256,
            source_name=source_name,
            source_text=text,
        )
        version.full_clean()
        version.save()
        if policy.name != document.name:
            policy.name = document.name
            policy.full_clean()
            policy.save(update_fields=["name"])
        return version, True
