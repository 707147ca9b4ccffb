"""The package's pages: the console's engagements list and page (with substitution), time
logged on a case from the console's ticket page, and the Hub's "Your Designated Support
Engineer"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from supporthub.access import Viewer
from supporthub.customers.selectors import local_date
from supporthub.dse import selectors
from supporthub.dse.forms import SubstitutionForm, TimeEntryForm
from supporthub.dse.models import Engagement
from supporthub.dse.services import engagement_substitute
from supporthub.dse.timelog import time_entry_log
from supporthub.staff.models import Role
from supporthub.tickets.selectors import ticket_for
from supporthub.web.viewers import customer_view, staff_view


def _manages(viewer: Viewer, engagement: Engagement) -> bool:
    """Who may substitute the engineer: the CS lead, the account manager, an administrator."""
    if viewer.user is not None and viewer.user.is_superuser:
        return True
    staff = viewer.staff
    return staff is not None and (
        staff.has_role(Role.CS_LEAD) or engagement.organisation.account_manager_id == staff.pk
    )


@staff_view
@require_GET
def engagements(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    now = timezone.now()
    rows = list(selectors.engagements_visible_to(viewer).order_by("organisation__name", "-start"))
    minutes = selectors.usage_by_engagement(rows, now=now)
    listed = []
    for engagement in rows:
        today = local_date(engagement.organisation, now)
        used = minutes.get(engagement.pk, 0)
        listed.append(
            {
                "engagement": engagement,
                "current": engagement.start <= today <= engagement.end,
                "ended": today > engagement.end,
                "hours": selectors.hours_text(used),
                "percent": used * 100 // max(1, int(engagement.monthly_limit_hours * 60)),
                "month": today,
            }
        )
    return render(request, "dse/engagements.html", {"rows": listed})


def _page_context(viewer: Viewer, engagement: Engagement) -> dict[str, Any]:
    now = timezone.now()
    overview = selectors.engagement_overview(engagement=engagement, now=now)
    terms = overview.terms
    return {
        "engagement": engagement,
        "overview": overview,
        "now": now,
        "previous": selectors.month_usage(
            engagement=engagement, month=overview.usage.month - timedelta(days=1)
        ),
        "entries": selectors.time_entries(engagement=engagement, month=overview.today)[:100],
        "absences": selectors.absences_ahead(engagement.engineer, since=overview.today),
        "administrative_days": (
            selectors.administrative_days_used(
                engagement, per_year=terms.administrative_days_per_year, business=overview.business
            )
            if terms is not None and overview.business is not None
            else []
        ),
        "substitutions": engagement.substitutions.select_related(
            "from_engineer", "to_engineer", "actor"
        ),
        "renewal": Engagement.objects.filter(renewal_of=engagement)
        .select_related("engineer")
        .first(),
        "manages": _manages(viewer, engagement),
    }


@staff_view
@require_GET
def engagement(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    found = selectors.engagement_for(viewer, pk)
    context = _page_context(viewer, found)
    context["substitute_form"] = SubstitutionForm()
    return render(request, "dse/engagement.html", context)


@staff_view
@require_POST
def substitute(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    found = selectors.engagement_for(viewer, pk)
    if not _manages(viewer, found):
        raise PermissionDenied("Only the CS lead or the account manager substitutes the DSE.")
    form = SubstitutionForm(request.POST)
    if form.is_valid():
        try:
            done = engagement_substitute(
                engagement=found,
                engineer=form.cleaned_data["engineer"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                f"{done.to_engineer} is now the Designated Support Engineer; "
                f"{done.cases_moved} open case(s) moved and the Support Contacts told.",
            )
            return redirect("console:dse-engagement", found.pk)
    context = _page_context(viewer, found)
    context["substitute_form"] = form
    return render(request, "dse/engagement.html", context, status=422)


@staff_view
@require_POST
def log_time(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    """Log time on a case from the console's ticket page; back to the case."""
    ticket = ticket_for(viewer, pk)
    if viewer.staff is None:
        raise PermissionDenied("Only staff members log time.")
    form = TimeEntryForm(request.POST)
    if form.is_valid():
        try:
            entry = time_entry_log(
                ticket=ticket,
                engineer=viewer.staff,
                minutes=form.cleaned_data["minutes"],
                on=form.cleaned_data["date"],
                note=form.cleaned_data["note"],
                actor=request.user,
            )
        except ValidationError as exc:
            messages.error(request, "Time not logged: " + " ".join(exc.messages))
        else:
            flag = (
                " It is over the Monthly Limit: recorded and flagged." if entry.over_limit else ""
            )
            messages.success(request, f"{entry.minutes} minutes logged on {entry.date}.{flag}")
    else:
        errors = "; ".join(
            f"{form.fields[name].label}: {' '.join(str(e) for e in errs)}"
            for name, errs in form.errors.items()
        )
        messages.error(request, f"Time not logged: {errors}")
    return redirect("console:ticket", ticket.pk)


@customer_view
@require_GET
def hub(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """The Hub's "Your Designated Support Engineer": who, available now or next, the month."""
    now = timezone.now()
    shown = []
    for found in selectors.engagements_visible_to(viewer).order_by("-start"):
        today = local_date(found.organisation, now)
        if found.end < today:
            continue
        shown.append(selectors.engagement_overview(engagement=found, now=now))
    return render(request, "dse/hub.html", {"overviews": shown, "zone": viewer.time_zone})
