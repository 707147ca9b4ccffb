"""Writes: storing a policy file as a new version, refusing anything that would rewrite history,
and moving the open tickets it applies to onto it."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from supporthub.customers.selectors import local_date
from supporthub.policies.loader import PolicyError, PolicyIssue, load_policy
from supporthub.policies.models import Policy, PolicyVersion
from supporthub.sla import services as sla
from supporthub.sla.clocks import iso
from supporthub.sla.retiming import RetimeResult
from supporthub.tickets.audit import audit_entry
from supporthub.tickets.models import OPEN_STATUSES, AuditEntry, Ticket


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


def policy_version_adopt(*, version: PolicyVersion) -> RetimeResult:
    """A new version of a policy: open tickets received on or after its effective date
    (the organisation's local date) move to it and are re-timed; older ones keep theirs."""
    policy = version.document()
    now = timezone.now()
    examined = 0
    entries: list[AuditEntry] = []
    with transaction.atomic():
        candidates = (
            Ticket.objects.select_for_update()
            .select_related("organisation")
            .filter(
                policy_version__policy=version.policy,
                policy_version__effective_date__lt=version.effective_date,
                status__in=[str(s) for s in OPEN_STATUSES],
                received_at__date__gte=version.effective_date - timedelta(days=1),
            )
        )
        for ticket in candidates:
            examined += 1
            if local_date(ticket.organisation, ticket.received_at) < version.effective_date:
                continue
            if ticket.support_level not in policy.support_levels:
                continue  # the level is gone from the new version: keep the one it had
            previous_version, previous_due = ticket.policy_version_id, ticket.first_response_due_at
            ticket.policy_version = version
            if ticket.first_response_at is None:
                sla.first_response_start(
                    ticket=ticket, policy=policy, organisation=ticket.organisation
                )
                sla.warnings_follow_due(
                    ticket=ticket,
                    previous_due=previous_due,
                    policy=policy,
                    organisation=ticket.organisation,
                )
            ticket.version += 1
            ticket.save(
                update_fields=[
                    "policy_version",
                    "first_response_due_at",
                    "first_response_status",
                    "sla_next_warning_at",
                    "sla_warned_point",
                    "version",
                    "updated_at",
                ]
            )
            entries.append(
                audit_entry(
                    ticket=ticket,
                    code="sla.policy_version_adopted",
                    at=now,
                    previous_policy_version=previous_version,
                    policy_version=version.pk,
                    previous_due_at=iso(previous_due),
                    due_at=iso(ticket.first_response_due_at),
                )
            )
        # One INSERT for the whole adoption, in the order the tickets moved.
        AuditEntry.objects.bulk_create(entries, batch_size=1000)
    return RetimeResult(examined=examined, retimed=len(entries))
