"""The console's development actions on a ticket: link by pasting an address, unlink with a
reason. Both answer with a redirect to the ticket page, with what happened or why not."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from supporthub.access import Viewer
from supporthub.development import services
from supporthub.development.forms import LinkForm, UnlinkForm
from supporthub.development.models import TicketLink
from supporthub.tickets import selectors
from supporthub.web.viewers import staff_view


def _refused(request: HttpRequest, exc: ValidationError | PermissionDenied) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for errors in exc.message_dict.values():
            for error in errors:
                messages.error(request, error)
    else:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))


@staff_view
@require_POST
def link(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    ticket = selectors.ticket_for(viewer, pk)
    form = LinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Issue or pull request address: paste the issue's address.")
        return redirect("console:ticket", pk=pk)
    try:
        made = services.ticket_link_issue(
            ticket=ticket, url=form.cleaned_data["url"], viewer=viewer
        )
    except (ValidationError, PermissionDenied) as exc:
        _refused(request, exc)
    else:
        messages.success(
            request,
            f"Linked to {made.issue.key}; the customer was told it is logged with development.",
        )
    return redirect("console:ticket", pk=pk)


@staff_view
@require_POST
def unlink(request: HttpRequest, viewer: Viewer, pk: int, link_id: int) -> HttpResponse:
    ticket = selectors.ticket_for(viewer, pk)
    found = get_object_or_404(TicketLink, pk=link_id, ticket=ticket)
    form = UnlinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Why unlink: say why the ticket is no longer linked.")
        return redirect("console:ticket", pk=pk)
    try:
        services.ticket_unlink_issue(link=found, reason=form.cleaned_data["reason"], viewer=viewer)
    except (ValidationError, PermissionDenied) as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"Unlinked from {found.issue.key}.")
    return redirect("console:ticket", pk=pk)
