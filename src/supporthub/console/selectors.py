"""Reads the console's pages need on top of the ticket selectors (always through a viewer)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from supporthub.access import Viewer
from supporthub.policies import schema
from supporthub.policies.models import PolicyVersion
from supporthub.staff.models import StaffMember
from supporthub.tickets import selectors
from supporthub.tickets.models import AuditEntry, Ticket


@dataclass(frozen=True)
class QueueTab:
    name: str
    label: str
    count: int


def queue_tabs(viewer: Viewer, *, current: str, current_count: int) -> list[QueueTab]:
    """Every queue with its size; the current one's count is already known from its page."""
    return [
        QueueTab(
            name=name,
            label=selectors.QUEUE_NAMES[name],
            count=current_count if name == current else selectors.queue(viewer, name).count(),
        )
        for name in selectors.QUEUES
    ]


def policy_documents(version_ids: Iterable[int]) -> dict[int, schema.Policy]:
    """The parsed policies of these versions, in one query (parsing is cached per text)."""
    ids = set(version_ids)
    if not ids:
        return {}
    return {v.pk: v.document() for v in PolicyVersion.objects.filter(pk__in=ids)}


def support_level_name(documents: dict[int, schema.Policy], ticket: Ticket) -> str:
    policy = documents.get(ticket.policy_version_id)
    level = policy.support_levels.get(ticket.support_level) if policy else None
    return level.name if level is not None else ticket.support_level


def severity_of(policy: schema.Policy, level: int) -> schema.Severity | None:
    return next((s for s in policy.severities if s.level == level), None)


def active_staff() -> QuerySet[StaffMember]:
    """Who a ticket can be assigned to."""
    return StaffMember.objects.filter(is_active=True).order_by("display_name")


def staff_names(ids: Iterable[int | None]) -> dict[int, str]:
    """Display names of staff members named by pk in audit data (active or not)."""
    wanted = {i for i in ids if isinstance(i, int)}
    if not wanted:
        return {}
    return dict(StaffMember.objects.filter(pk__in=wanted).values_list("pk", "display_name"))


def audit_trail(viewer: Viewer, ticket: Ticket) -> list[AuditEntry]:
    """The ticket's audit entries with each actor's staff or contact record in the same query."""
    return list(
        selectors.audit_for(viewer, ticket).select_related(
            "actor__staff_member", "actor__support_contact"
        )
    )


def hot_items(viewer: Viewer) -> QuerySet[Ticket]:
    """The CS lead's list, each ticket with its escalation entries (newest first) attached."""
    escalations = (
        AuditEntry.objects.filter(code="ticket.escalated")
        .select_related("actor__staff_member")
        .order_by("-at", "-pk")
    )
    return (
        selectors.hot_items(viewer)
        .select_related("requester")
        .prefetch_related(Prefetch("audit", queryset=escalations, to_attr="escalations"))
    )
