"""The Support Hub: customers follow their organisation's tickets and open incidents.

Reads go through the ticket selectors with the viewer (another organisation's ticket or
file is a 404 there); writes go through the ticket services, which decide.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.forms import Form
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from supporthub.access import Viewer
from supporthub.portal import selectors as hub
from supporthub.portal.forms import IncidentForm, ReplyForm
from supporthub.tickets import conversation, opening, selectors, services
from supporthub.tickets.models import Channel, Status, Ticket, TicketType
from supporthub.tickets.opening import TicketRequest
from supporthub.tickets.rendering import attachment_response, local_time
from supporthub.web.viewers import customer_view

PAGE_SIZE = 25

# Service error keys that are not this form's field names.
_ERROR_FIELDS = {"file": "attachments"}


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _when(value: datetime | None, zone: str) -> str:
    """An instant as the viewer reads it: "Mon 03 Mar 2025, 14:00 EST"."""
    shown = local_time(value, zone)
    if shown is None:
        return "—"
    return f"{shown:%a %d %b %Y, %H:%M} {shown.tzname()}"


def _add_errors(form: Form, error: ValidationError) -> None:
    """Put a service's refusal on the field it names (or on the form)."""
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            name = _ERROR_FIELDS.get(field, field)
            form.add_error(name if name in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


def _forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "portal/forbidden.html", {"reason": reason}, status=403)


# -- The list ---------------------------------------------------------------------------------


@require_GET
@customer_view
def tickets(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    status = request.GET.get("status", hub.DEFAULT_STATUS_FILTER)
    if status not in hub.STATUS_FILTERS:
        status = hub.DEFAULT_STATUS_FILTER
    search = request.GET.get("q", "").strip()[:200]
    paginator = Paginator(hub.organisation_tickets(viewer, status=status, search=search), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    shown = list(page.object_list)
    names = hub.severity_names(shown)
    counts = hub.status_counts(viewer, search=search)

    def query(**params: str | int) -> str:
        values: dict[str, str | int] = {"status": status}
        if search:
            values["q"] = search
        values.update(params)
        return urlencode(values)

    return render(
        request,
        "portal/tickets.html",
        {
            "rows": [
                (t, names.get((t.policy_version_id, t.severity), f"Severity {t.severity}"))
                for t in shown
            ],
            "page": page,
            "status": status,
            "search": search,
            "zone": viewer.time_zone,
            "tabs": [
                (key, label, counts[key], query(status=key), key == status)
                for key, (label, _) in hub.STATUS_FILTERS.items()
            ],
            "previous_query": query(page=page.previous_page_number())
            if page.has_previous()
            else "",
            "next_query": query(page=page.next_page_number()) if page.has_next() else "",
        },
    )


# -- A new incident ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@customer_view
def new(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    posted = request.method == "POST"
    context: dict[str, Any] = {"zone": viewer.time_zone}
    if not viewer.can_open_incidents:
        # Members and retired contacts read the reason; a POST from them creates nothing.
        context["refusal"] = viewer.why_cannot_open()
        return render(request, "portal/new.html", context, status=403 if posted else 200)
    terms = hub.incident_terms(viewer)
    if terms is None:
        context["no_subscription"] = True
        return render(request, "portal/new.html", context, status=409 if posted else 200)
    form = IncidentForm(
        request.POST if posted else None, request.FILES if posted else None, terms=terms
    )
    if posted and form.is_valid():
        try:
            ticket = _open_incident(viewer, form)
        except ValidationError as error:
            _add_errors(form, error)
        except PermissionDenied as refusal:
            return _forbidden(request, str(refusal))
        else:
            if ticket.first_response_due_at is not None:
                due = f"first response due {_when(ticket.first_response_due_at, viewer.time_zone)}"
            else:
                due = "the policy sets no Target Initial Response for its severity"
            messages.success(request, f"{ticket.reference} opened; {due}")
            return redirect("portal:ticket", pk=ticket.pk)
    context.update(_incident_context(viewer, terms, form))
    return render(request, "portal/new.html", context, status=400 if posted else 200)


def _open_incident(viewer: Viewer, form: IncidentForm) -> Ticket:
    """The ticket and its files, all or nothing."""
    assert viewer.organisation is not None  # noqa: S101 - customer_view guarantees it
    data = form.cleaned_data
    with transaction.atomic():
        ticket = opening.ticket_open(
            request=TicketRequest(
                organisation=viewer.organisation,
                requester=viewer.contact,
                subject=data["subject"],
                body=data["body"],
                severity=data["severity"],
                type=TicketType(data["type"]),
                channel=Channel.HUB,
            ),
            actor=viewer.user,
        )
        for upload in form.uploads:
            conversation.attachment_add(ticket=ticket, upload=upload, viewer=viewer)
    return ticket


def _incident_context(
    viewer: Viewer, terms: hub.IncidentTerms, form: IncidentForm
) -> dict[str, Any]:
    selected = form.selected_severity()
    return {
        "form": form,
        "terms": terms,
        "selected": selected,
        **_preview(viewer, terms, selected),
    }


def _preview(viewer: Viewer, terms: hub.IncidentTerms, severity: int | None) -> dict[str, Any]:
    choice = terms.choice(severity) if severity is not None else None
    return {
        "terms": terms,
        "choice": choice,
        "due_at": terms.due_if_opened(choice.level) if choice is not None else None,
        "zone": viewer.time_zone,
    }


@require_GET
@customer_view
def due_preview(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """The due time an incident of the chosen severity would get if submitted now."""
    if not viewer.can_open_incidents:
        raise PermissionDenied(viewer.why_cannot_open())
    terms = hub.incident_terms(viewer)
    if terms is None:
        return render(request, "portal/_due_preview.html", {"no_subscription": True})
    try:
        severity: int | None = int(request.GET.get("severity", ""))
    except ValueError:
        severity = None
    return render(request, "portal/_due_preview.html", _preview(viewer, terms, severity))


# -- A ticket ---------------------------------------------------------------------------------


def _ticket_context(viewer: Viewer, ticket: Ticket, form: ReplyForm) -> dict[str, Any]:
    opening_files, entries = hub.conversation(viewer, ticket)
    return {
        "ticket": ticket,
        "terms": hub.ticket_terms(ticket),
        "zone": viewer.time_zone,
        "opening_files": opening_files,
        "entries": entries,
        "form": form,
        "closed": ticket.status == Status.CLOSED,
    }


@require_GET
@customer_view
def ticket(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    found = selectors.ticket_for(viewer, pk)
    return render(request, "portal/ticket.html", _ticket_context(viewer, found, ReplyForm()))


@require_POST
@customer_view
def reply(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    """A reply with files; htmx gets the conversation back, a plain form post a redirect."""
    found = selectors.ticket_for(viewer, pk)
    if not viewer.can_reply:
        return _forbidden(request, viewer.why_cannot_open())
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.ticket_reply(
                ticket=found, viewer=viewer, body=form.cleaned_data["body"], uploads=form.uploads
            )
        except ValidationError as error:
            _add_errors(form, error)
        except PermissionDenied as refusal:
            return _forbidden(request, str(refusal))
        else:
            if _is_htmx(request):
                fresh = selectors.ticket_for(viewer, pk)
                context = _ticket_context(viewer, fresh, ReplyForm())
                context["sent"] = True
                return render(request, "portal/_conversation_swap.html", context)
            messages.success(request, f"Your reply was added to {found.reference}.")
            return redirect(reverse("portal:ticket", kwargs={"pk": pk}) + "#conversation")
    context = _ticket_context(viewer, found, form)
    if _is_htmx(request):
        # 200, so that htmx swaps the form with its errors in.
        return render(request, "portal/_conversation_swap.html", context)
    return render(request, "portal/ticket.html", context, status=400)


@require_GET
@customer_view
def attachment(request: HttpRequest, viewer: Viewer, pk: int, attachment_id: int) -> FileResponse:
    found = selectors.ticket_for(viewer, pk)
    return attachment_response(selectors.attachment_for(viewer, found, attachment_id))
