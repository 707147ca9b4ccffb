"""Reads for the Support Hub pages, built on the ticket selectors (always with the viewer).

The incident terms answer "what would an incident opened now get": the same entitlement,
channel rule, calendar and target that `tickets.opening.ticket_open` uses, so the due time
shown before submitting is the one the ticket gets.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from supporthub.access import Viewer
from supporthub.customers.models import Organisation
from supporthub.customers.selectors import Entitlement, entitlement_on, holiday_place, local_date
from supporthub.policies import schema
from supporthub.policies.models import PolicyVersion
from supporthub.sla import clocks
from supporthub.sla.calendars import calendar_for
from supporthub.tickets import selectors
from supporthub.tickets.models import OPEN_STATUSES, Attachment, Message, Status, Ticket

# -- The ticket list --------------------------------------------------------------------------

STATUS_FILTERS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "open": ("Open", tuple(str(s) for s in OPEN_STATUSES)),
    "solved": ("Solved and closed", (str(Status.SOLVED), str(Status.CLOSED))),
    "all": ("All", None),
}
DEFAULT_STATUS_FILTER = "open"
_REFERENCE = re.compile(r"^\s*(?:SH-?)?0*(\d{1,12})\s*$", re.IGNORECASE)


def _matching(viewer: Viewer, search: str) -> QuerySet[Ticket]:
    tickets = selectors.tickets_visible_to(viewer)
    search = search.strip()
    if not search:
        return tickets
    condition = Q(subject__icontains=search)
    reference = _REFERENCE.match(search)
    if reference:
        condition |= Q(pk=int(reference.group(1)))
    return tickets.filter(condition)


def organisation_tickets(viewer: Viewer, *, status: str, search: str) -> QuerySet[Ticket]:
    """The organisation's tickets (everyone's, not only the viewer's), newest first."""
    tickets = _matching(viewer, search)
    statuses = STATUS_FILTERS[status][1]
    if statuses is not None:
        tickets = tickets.filter(status__in=statuses)
    # The list shows no bodies: leave them in the database.
    return (
        tickets.select_related("requester")
        .defer("body", "escalation_reason")
        .order_by("-received_at", "-pk")
    )


def status_counts(viewer: Viewer, *, search: str) -> dict[str, int]:
    """How many tickets each status filter holds, in one query."""
    counts = _matching(viewer, search).aggregate(
        all=Count("pk"),
        **{
            key: Count("pk", filter=Q(status__in=statuses))
            for key, (_, statuses) in STATUS_FILTERS.items()
            if statuses is not None
        },
    )
    return {key: int(counts[key] or 0) for key in STATUS_FILTERS}


def severity_names(tickets: Sequence[Ticket]) -> dict[tuple[int, int], str]:
    """(policy version id, severity) -> the policy's name for it, for a page of tickets.

    One query for the distinct versions on the page, however many tickets it shows.
    """
    version_ids = {t.policy_version_id for t in tickets}
    names: dict[tuple[int, int], str] = {}
    for version in PolicyVersion.objects.filter(pk__in=version_ids):
        for severity in version.document().severities:
            names[(version.pk, severity.level)] = severity.name
    return names


# -- A ticket and its conversation ----------------------------------------------------------


@dataclass(frozen=True)
class TicketTerms:
    """What the ticket is measured against, in the words of its own policy version."""

    policy_name: str
    severity_name: str
    severity_description: str
    support_level_name: str
    target: schema.Target | None
    exclusion: schema.Exclusion | None  # set when closed as out of scope


def ticket_terms(ticket: Ticket) -> TicketTerms:
    policy = ticket.policy_version.document()
    try:
        severity = policy.severity(ticket.severity)
        severity_name, severity_description = severity.name, severity.description
    except KeyError:
        severity_name, severity_description = f"Severity {ticket.severity}", ""
    level = policy.support_levels.get(ticket.support_level)
    exclusion = None
    if ticket.out_of_scope:
        exclusion = next((e for e in policy.exclusions if e.key == ticket.out_of_scope), None)
    return TicketTerms(
        policy_name=policy.name,
        severity_name=severity_name,
        severity_description=severity_description,
        support_level_name=level.name if level is not None else ticket.support_level,
        target=level.targets.get(ticket.severity) if level is not None else None,
        exclusion=exclusion,
    )


@dataclass(frozen=True)
class ConversationEntry:
    message: Message
    attachments: list[Attachment]


def conversation(
    viewer: Viewer, ticket: Ticket
) -> tuple[list[Attachment], list[ConversationEntry]]:
    """The files sent with the ticket itself, and each visible message with its files.

    Files come from `attachments_for`, so a customer never gets an internal one.
    """
    by_message: dict[int | None, list[Attachment]] = defaultdict(list)
    for attachment in selectors.attachments_for(viewer, ticket):
        by_message[attachment.message_id].append(attachment)
    entries = [
        ConversationEntry(message=m, attachments=by_message.get(m.pk, []))
        for m in selectors.messages_for(viewer, ticket).prefetch_related(None)
    ]
    return by_message.get(None, []), entries


# -- What an incident opened now would get --------------------------------------------------


@dataclass(frozen=True)
class SeverityChoice:
    level: int
    name: str
    description: str
    target: schema.Target | None


@dataclass(frozen=True)
class IncidentTerms:
    """The subscription in force now, and the severities the Support Hub accepts under it."""

    organisation: Organisation
    entitlement: Entitlement
    at: datetime
    severities: tuple[SeverityChoice, ...]
    forced_severity: int | None

    @property
    def policy(self) -> schema.Policy:
        return self.entitlement.policy

    @property
    def support_level(self) -> schema.SupportLevel:
        return self.entitlement.support_level

    @property
    def default_severity(self) -> int | None:
        levels = [s.level for s in self.severities]
        if self.policy.default_severity in levels:
            return self.policy.default_severity
        return levels[-1] if levels else None

    def choice(self, level: int) -> SeverityChoice | None:
        return next((s for s in self.severities if s.level == level), None)

    def hours(self) -> str:
        return self.support_level.hours.describe()

    def hours_zone(self) -> str | None:
        """The zone business hours are counted in, when it is the organisation's own."""
        hours = self.support_level.hours
        if hours.always or hours.zone:
            return None
        return self.organisation.time_zone

    def holidays(self) -> str:
        country, subdivision = holiday_place(organisation=self.organisation, policy=self.policy)
        return f"{country}-{subdivision}" if subdivision else country

    def due_if_opened(self, severity: int) -> datetime | None:
        """The first-response due instant of an incident of `severity` received at `at`;
        None when the policy sets no target for it."""
        if self.forced_severity is not None:
            severity = self.forced_severity
        target = self.support_level.targets.get(severity)
        if target is None:
            return None
        calendar = calendar_for(
            organisation=self.organisation, policy=self.policy, support_level=self.support_level
        )
        return clocks.due_at(calendar, target, self.at)


def incident_terms(viewer: Viewer, *, at: datetime | None = None) -> IncidentTerms | None:
    """What an incident opened through the Support Hub at `at` (now) would be measured
    against; None when the organisation has no subscription in force."""
    organisation = viewer.organisation
    if organisation is None:
        return None
    at = at or timezone.now()
    entitlement = entitlement_on(organisation=organisation, on=local_date(organisation, at))
    if entitlement is None:
        return None
    policy = entitlement.policy
    rule = policy.channels.get("hub")
    allowed: Iterable[int] = (
        rule.allowed_severities if rule is not None else [s.level for s in policy.severities]
    )
    level = entitlement.support_level
    severities = tuple(
        SeverityChoice(
            level=s.level,
            name=s.name,
            description=s.description,
            target=level.targets.get(s.level),
        )
        for s in policy.severities
        if s.level in set(allowed)
    )
    return IncidentTerms(
        organisation=organisation,
        entitlement=entitlement,
        at=at,
        severities=severities,
        forced_severity=rule.forced_severity if rule is not None else None,
    )
