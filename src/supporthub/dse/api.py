"""The REST API of the package, under /api/dse/: engagements, their monthly usage, and time
entries (list; create for staff). Customers see their organisation's engagements."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone
from ninja import P, Router, Schema, Status
from ninja.params import PathEx, QueryEx
from pydantic import ConfigDict, Field

from supporthub.api.auth import viewer_of
from supporthub.api.limits import BODY_LIMIT
from supporthub.api.schemas import Error, Id, WireId
from supporthub.customers.selectors import local_date
from supporthub.dse import selectors
from supporthub.dse.models import Engagement, TimeEntry
from supporthub.dse.timelog import time_entry_log
from supporthub.sla.clocks import iso
from supporthub.tickets.selectors import ticket_for

Date = date  # fields named `date` shadow the type inside their schema
router = Router(tags=["designated support engineer"])
ERRORS: dict[int, Any] = {401: Error, 403: Error, 404: Error, 422: Error}
EngagementId = PathEx[WireId, P(description="The engagement's id")]
Month = QueryEx[
    str | None,
    P(
        default=None,
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        description="YYYY-MM (default: this month in the organisation's time zone)",
    ),
]


class MonthUsageOut(Schema):
    month: str = Field(description="YYYY-MM, the organisation's calendar month")
    hours_used: Decimal
    limit_hours: Decimal
    percent: int = Field(description="Whole percent of the Monthly Limit used, rounded down")
    reached: bool
    text: str = Field(examples=["12.5 of 25 hours used in December 2026"])


class CaseUsageOut(Schema):
    ticket: int
    reference: str
    subject: str
    minutes: int = Field(description="Counted against the Monthly Limit")
    minutes_logged: int = Field(description="All minutes logged, other engineers' included")


class UsageOut(MonthUsageOut):
    cases: list[CaseUsageOut]


class EngagementOut(Schema):
    id: int
    organisation: str
    engineer: str
    sku: str
    start: date
    end: date = Field(description="The last day (inclusive); it never renews by itself")
    monthly_limit_hours: Decimal
    renewal_of: int | None
    state: str = Field(description="active, not_started, ended or no_active_subscription")
    state_reason: str
    available_now: bool | None
    next_available_at: str | None = Field(
        description="ISO 8601 UTC: when Available Hours open next (null when open now)"
    )
    this_month: MonthUsageOut


class TimeEntryIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ticket: Id
    minutes: Annotated[int, Field(ge=1, le=24 * 60)]
    date: Date | None = Field(
        default=None, description="The day of the work (default: the organisation's today)"
    )
    note: Annotated[str, Field(max_length=500)] = ""


class TimeEntryOut(Schema):
    id: int
    engagement: int
    ticket: int
    engineer: str
    minutes: int
    date: Date
    note: str | None = Field(description="Staff only (null for customers)")
    counts_toward_limit: bool
    over_limit: bool
    created_at: str


def _month_usage(usage: selectors.MonthUsage) -> dict[str, Any]:
    return {
        "month": f"{usage.month:%Y-%m}",
        "hours_used": usage.hours,
        "limit_hours": usage.limit_hours,
        "percent": usage.percent,
        "reached": usage.reached,
        "text": usage.describe(),
    }


def _engagement_out(engagement: Engagement, now: datetime) -> dict[str, Any]:
    overview = selectors.engagement_overview(engagement=engagement, now=now)
    availability = overview.availability
    return {
        "id": engagement.pk,
        "organisation": engagement.organisation.name,
        "engineer": engagement.engineer.display_name,
        "sku": engagement.sku,
        "start": engagement.start,
        "end": engagement.end,
        "monthly_limit_hours": engagement.monthly_limit_hours,
        "renewal_of": engagement.renewal_of_id,
        "state": overview.state,
        "state_reason": overview.why,
        "available_now": availability.open_now if availability else None,
        "next_available_at": (
            iso(availability.starts_at) if availability and not availability.open_now else None
        ),
        "this_month": _month_usage(overview.usage),
    }


def _entry_out(entry: TimeEntry, *, staff: bool) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "engagement": entry.engagement_id,
        "ticket": entry.ticket_id,
        "engineer": entry.engineer.display_name,
        "minutes": entry.minutes,
        "date": entry.date,
        "note": entry.note if staff else None,
        "counts_toward_limit": entry.counts_toward_limit,
        "over_limit": entry.over_limit,
        "created_at": iso(entry.created_at),
    }


def _month(engagement: Engagement, month: str | None) -> date:
    if month is None:
        return local_date(engagement.organisation, timezone.now()).replace(day=1)
    return date(int(month[:4]), int(month[5:7]), 1)


@router.get("/engagements", response={200: list[EngagementOut], **ERRORS})
def dse_engagements(request: HttpRequest) -> list[dict[str, Any]]:
    """The engagements you may see, each with this month's usage and Available Hours."""
    viewer = viewer_of(request)
    now = timezone.now()
    found = selectors.engagements_visible_to(viewer).order_by("organisation__name", "-start")
    return [_engagement_out(e, now) for e in found[:200]]


@router.get("/engagements/{engagement_id}", response={200: EngagementOut, **ERRORS})
def dse_engagement(request: HttpRequest, engagement_id: EngagementId) -> dict[str, Any]:
    """One engagement."""
    engagement = selectors.engagement_for(viewer_of(request), engagement_id)
    return _engagement_out(engagement, timezone.now())


@router.get("/engagements/{engagement_id}/usage", response={200: UsageOut, **ERRORS})
def dse_usage(
    request: HttpRequest, engagement_id: EngagementId, month: Month = None
) -> dict[str, Any]:
    """Hours used in a month against the Monthly Limit, with the per-case breakdown."""
    engagement = selectors.engagement_for(viewer_of(request), engagement_id)
    usage = selectors.month_usage(engagement=engagement, month=_month(engagement, month))
    return {
        **_month_usage(usage),
        "cases": [
            {
                "ticket": c.ticket_id,
                "reference": c.reference,
                "subject": c.subject,
                "minutes": c.minutes,
                "minutes_logged": c.minutes_logged,
            }
            for c in usage.cases
        ],
    }


@router.get(
    "/engagements/{engagement_id}/time-entries", response={200: list[TimeEntryOut], **ERRORS}
)
def dse_time_entries(
    request: HttpRequest, engagement_id: EngagementId, month: Month = None
) -> list[dict[str, Any]]:
    """The time logged in a month, newest first."""
    viewer = viewer_of(request)
    engagement = selectors.engagement_for(viewer, engagement_id)
    entries = selectors.time_entries(engagement=engagement, month=_month(engagement, month))
    return [_entry_out(e, staff=viewer.is_staff) for e in entries]


@router.post(
    "/time-entries",
    response={201: TimeEntryOut, 400: Error, 413: Error, **ERRORS},
    openapi_extra=BODY_LIMIT,
)
def dse_time_entry_create(request: HttpRequest, data: TimeEntryIn) -> Status[dict[str, Any]]:
    """Log time on a case (staff): counted against the Monthly Limit when the DSE logs it;
    past the limit it is recorded and flagged (`over_limit`), never refused."""
    viewer = viewer_of(request)
    if viewer.staff is None:
        raise PermissionDenied("Only staff members log time.")
    ticket = ticket_for(viewer, data.ticket)
    entry = time_entry_log(
        ticket=ticket,
        engineer=viewer.staff,
        minutes=data.minutes,
        on=data.date,
        note=data.note,
        actor=viewer.user,
    )
    return Status(201, _entry_out(entry, staff=True))
