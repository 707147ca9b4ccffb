"""Pages of the engagement's rhythm and its monthly case reports, in the console (staff) and
in the Support Hub (the organisation's people, read-only): check-ins, the environment profile,
the reports as pages, PDF and CSV.

An engagement the viewer may not see is a 404 on either face, as another organisation's
ticket is. Only the engagement's DSE (or the CS lead) records check-ins and edits the profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from supporthub.access import Viewer
from supporthub.customers.selectors import local_date
from supporthub.dse.models import Engagement, MonthlyReport
from supporthub.dse.profile import PARTS, current_version, profile_edit, profile_history
from supporthub.dse.report import ReportFigures, report_figures, report_policy
from supporthub.dse.report_mail import organisation_calendar, report_due_on, report_slug
from supporthub.dse.report_render import report_csv, report_filename, report_pdf
from supporthub.dse.rhythm import MILESTONES, check_in_record, check_ins_of, may_keep, may_see
from supporthub.dse.rhythm_forms import CheckInForm, ProfileForm
from supporthub.dse.selectors import month_start, next_month
from supporthub.web.viewers import customer_view, staff_view


def _engagement(viewer: Viewer, pk: int) -> Engagement:
    engagement = get_object_or_404(
        Engagement.objects.select_related("organisation__account_manager__user", "engineer__user"),
        pk=pk,
    )
    if not may_see(viewer, engagement):
        raise Http404("No such engagement")
    return engagement


def _add_errors(form: Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, texts in error.message_dict.items():
            form.add_error(field if field in form.fields else None, texts)
    else:
        form.add_error(None, error.messages)


def _face(viewer: Viewer) -> str:
    return "hub" if viewer.is_customer else "console"


# -- check-ins ------------------------------------------------------------------------------


def _check_ins_page(
    request: HttpRequest, viewer: Viewer, engagement: Engagement, form: CheckInForm | None
) -> HttpResponse:
    return render(
        request,
        "dse/rhythm/check_ins.html",
        {
            "engagement": engagement,
            "face": _face(viewer),
            "check_ins": check_ins_of(engagement=engagement),
            "form": form,
            "milestones": MILESTONES,
        },
    )


@staff_view
@require_http_methods(["GET", "POST"])
def console_check_ins(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    engagement = _engagement(viewer, pk)
    if not may_keep(viewer, engagement):
        return _check_ins_page(request, viewer, engagement, None)
    if request.method != "POST":
        today = local_date(engagement.organisation, timezone.now())
        return _check_ins_page(request, viewer, engagement, CheckInForm(initial={"date": today}))
    form = CheckInForm(request.POST)
    if form.is_valid():
        try:
            check_in = check_in_record(engagement=engagement, data=form.data_input(), viewer=viewer)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request,
                f"Check-in of {check_in.date:%d %B %Y} recorded for {engagement.organisation}.",
            )
            return redirect("dse_rhythm:console_check_ins", engagement.pk)
    return _check_ins_page(request, viewer, engagement, form)


@customer_view
@require_GET
def hub_check_ins(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    return _check_ins_page(request, viewer, _engagement(viewer, pk), None)


# -- environment profile --------------------------------------------------------------------


def _profile_page(
    request: HttpRequest, viewer: Viewer, engagement: Engagement, form: ProfileForm | None
) -> HttpResponse:
    organisation = engagement.organisation
    current = current_version(organisation=organisation)
    return render(
        request,
        "dse/rhythm/profile.html",
        {
            "engagement": engagement,
            "face": _face(viewer),
            "current": current,
            "parts": [(label, getattr(current, name, "")) for name, label in PARTS],
            "history": profile_history(organisation=organisation),
            "form": form,
        },
    )


@staff_view
@require_http_methods(["GET", "POST"])
def console_profile(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    engagement = _engagement(viewer, pk)
    if not may_keep(viewer, engagement):
        return _profile_page(request, viewer, engagement, None)
    if request.method != "POST":
        current = current_version(organisation=engagement.organisation)
        initial: dict[str, object] = {name: getattr(current, name, "") for name, _ in PARTS}
        initial["based_on"] = current.number if current is not None else 0
        return _profile_page(request, viewer, engagement, ProfileForm(initial=initial))
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            version = profile_edit(
                engagement=engagement,
                data=form.data_input(),
                based_on=form.cleaned_data["based_on"],
                viewer=viewer,
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Environment profile saved as version {version.number}.")
            return redirect("dse_rhythm:console_profile", engagement.pk)
    return _profile_page(request, viewer, engagement, form)


@customer_view
@require_GET
def hub_profile(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    return _profile_page(request, viewer, _engagement(viewer, pk), None)


# -- monthly case reports -------------------------------------------------------------------


@dataclass(frozen=True)
class MonthRow:
    month: date
    slug: str
    report: MonthlyReport | None
    due_on: date | None  # when it will be mailed (not generated yet)
    in_progress: bool


def _months(engagement: Engagement, *, with_unsent: bool) -> list[MonthRow]:
    """The engagement's months up to the organisation's current one, newest first."""
    reports = {r.month: r for r in engagement.monthly_reports.all()}
    current = month_start(local_date(engagement.organisation, timezone.now()))
    calendar = organisation_calendar(engagement.organisation, report_policy(engagement, current))
    month = month_start(engagement.start)
    rows = []
    while month <= min(current, engagement.end):
        report = reports.get(month)
        if report is not None or with_unsent:
            rows.append(
                MonthRow(
                    month=month,
                    slug=report_slug(month),
                    report=report,
                    due_on=report_due_on(engagement, month, calendar=calendar)
                    if report is None
                    else None,
                    in_progress=month == current,
                )
            )
        month = next_month(month)
    rows.reverse()
    return rows


def _month(engagement: Engagement, slug: str) -> date:
    try:
        month = date.fromisoformat(f"{slug}-01")
    except ValueError:
        raise Http404("Name the month as YYYY-MM") from None
    current = month_start(local_date(engagement.organisation, timezone.now()))
    if not month_start(engagement.start) <= month <= min(current, engagement.end):
        raise Http404("No report for that month")
    return month


def _figures(engagement: Engagement, month: date, *, stored_only: bool) -> ReportFigures:
    report = MonthlyReport.objects.filter(engagement=engagement, month=month).first()
    if report is not None and report.figures:
        return ReportFigures.from_json(report.figures)
    if stored_only:
        raise Http404("That month's report has not been generated yet")
    return report_figures(engagement=engagement, month=month)


def _reports_page(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    engagement = _engagement(viewer, pk)
    face = _face(viewer)
    return render(
        request,
        "dse/report/list.html",
        {
            "engagement": engagement,
            "face": face,
            "months": _months(engagement, with_unsent=face == "console"),
        },
    )


def _report_page(request: HttpRequest, viewer: Viewer, pk: int, month: str) -> HttpResponse:
    engagement = _engagement(viewer, pk)
    face = _face(viewer)
    first = _month(engagement, month)
    report = MonthlyReport.objects.filter(engagement=engagement, month=first).first()
    figures = _figures(engagement, first, stored_only=face == "hub")
    slug = report_slug(first)
    current = month_start(local_date(engagement.organisation, timezone.now()))
    return render(
        request,
        "dse/report/page.html",
        {
            "engagement": engagement,
            "face": face,
            "figures": figures,
            "report": report,
            "in_progress": first == current,
            "due_on": report_due_on(engagement, first) if report is None else None,
            "pdf_url": reverse(f"dse_rhythm:{face}_report_pdf", args=[engagement.pk, slug]),
            "csv_url": reverse(f"dse_rhythm:{face}_report_csv", args=[engagement.pk, slug]),
            "list_url": reverse(f"dse_rhythm:{face}_reports", args=[engagement.pk]),
        },
    )


def _report_file(viewer: Viewer, pk: int, month: str, extension: str) -> HttpResponse:
    engagement = _engagement(viewer, pk)
    figures = _figures(engagement, _month(engagement, month), stored_only=viewer.is_customer)
    if extension == "pdf":
        response = HttpResponse(report_pdf(figures), content_type="application/pdf")
    else:
        response = HttpResponse(report_csv(figures), content_type="text/csv; charset=utf-8")
    name = report_filename(figures, extension)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@staff_view
@require_GET
def console_reports(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    return _reports_page(request, viewer, pk)


@customer_view
@require_GET
def hub_reports(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    return _reports_page(request, viewer, pk)


@staff_view
@require_GET
def console_report(request: HttpRequest, viewer: Viewer, pk: int, month: str) -> HttpResponse:
    return _report_page(request, viewer, pk, month)


@customer_view
@require_GET
def hub_report(request: HttpRequest, viewer: Viewer, pk: int, month: str) -> HttpResponse:
    return _report_page(request, viewer, pk, month)


@staff_view
@require_GET
def console_report_pdf(request: HttpRequest, viewer: Viewer, pk: int, month: str) -> HttpResponse:
    return _report_file(viewer, pk, month, "pdf")


@customer_view
@require_GET
def hub_report_pdf(request: HttpRequest, viewer: Viewer, pk: int, month: str) -> HttpResponse:
    return _report_file(viewer, pk, month, "pdf")


@staff_view
@require_GET
def console_report_csv(request: HttpRequest, viewer: Viewer, pk: int, month: str) -> HttpResponse:
    return _report_file(viewer, pk, month, "csv")


@customer_view
@require_GET
def hub_report_csv(request: HttpRequest, viewer: Viewer, pk: int, month: str) -> HttpResponse:
    return _report_file(viewer, pk, month, "csv")
