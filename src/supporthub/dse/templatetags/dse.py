"""The console ticket page's Designated Support Engineer box: the month's usage of the case's
engagement, the time logged on the case, and the form to log more."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Sum
from django.utils import timezone

from supporthub.customers.selectors import local_date
from supporthub.dse.forms import TimeEntryForm
from supporthub.dse.models import Coverage, TimeEntry
from supporthub.dse.selectors import month_usage
from supporthub.dse.timelog import engagement_of_case
from supporthub.tickets.models import Ticket

register = template.Library()


@register.inclusion_tag("dse/_case.html", takes_context=True)
def dse_case(context: template.Context, ticket: Ticket) -> dict[str, Any]:
    """Nothing (one read) for a case no engagement covers today."""
    today = local_date(ticket.organisation, timezone.now())
    engagement = engagement_of_case(ticket=ticket, on=today)
    if engagement is None:
        return {"engagement": None}
    logged = TimeEntry.objects.filter(ticket=ticket).aggregate(total=Sum("minutes", default=0))
    return {
        "engagement": engagement,
        "ticket": ticket,
        "usage": month_usage(engagement=engagement, month=today),
        "case_minutes": logged["total"],
        "coverage": Coverage.objects.filter(ticket=ticket).first(),
        "form": TimeEntryForm(initial={"date": today}),
        "viewer": context.get("viewer"),
        "csrf_token": context.get("csrf_token"),
    }
