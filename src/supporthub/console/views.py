"""The agent console: queues, the ticket page and its actions, the CS lead's hot items.

Reads go through the ticket selectors with the viewer; writes through the ticket services.
Every action form carries the ticket version it was rendered from: a stale form changes
nothing and the page comes back with the current state and what was typed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.forms import Form
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from supporthub.access import Viewer
from supporthub.console import forms
from supporthub.console import selectors as console
from supporthub.development import selectors as development
from supporthub.intake.voicemail import forms as voicemail_forms
from supporthub.intake.voicemail import selectors as voicemail_selectors
from supporthub.intake.voicemail import services as voicemail_services
from supporthub.intake.voicemail.models import Voicemail
from supporthub.policies.selectors import policy_version_number
from supporthub.routing.selectors import rotation_now, rotations
from supporthub.sla.selectors import ATTAINMENT_DIMENSIONS, attainment, first_response_state
from supporthub.tickets import selectors, services
from supporthub.tickets.locks import VersionConflict
from supporthub.tickets.models import Status, Ticket
from supporthub.tickets.rendering import attachment_response, local_time
from supporthub.web.viewers import staff_view

PAGE_SIZE = 50
CONFLICT_MESSAGE = (
    "{reference} changed since you opened it; here is the current state. Nothing was saved: "
    "check the conversation and the facts, then submit again."
)
# Service errors name model fields; these are the form fields that show them.
FIELD_ALIASES = {"file": "attachments"}


# -- Queues ---------------------------------------------------------------------------------


@staff_view
@require_GET
def queue(request: HttpRequest, viewer: Viewer, name: str = "all") -> HttpResponse:
    """A queue, what breaches first at the top; htmx asks for the table alone every 30 s."""
    tickets = selectors.queue(viewer, name).defer("body")  # a list never shows bodies
    stage = request.GET.get("development", "")
    if stage:
        tickets = development.in_stage(tickets, stage)
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    documents = console.policy_documents(t.policy_version_id for t in rows)
    context = {
        "name": name,
        "label": selectors.QUEUE_NAMES[name],
        "tabs": console.queue_tabs(viewer, current=name, current_count=page.paginator.count),
        "page": page,
        "rows": [
            {
                "ticket": t,
                "level": console.support_level_name(documents, t),
                "policy": documents.get(t.policy_version_id),
            }
            for t in rows
        ],
        "no_region": name == "region" and not (viewer.staff and viewer.staff.region),
        "now": timezone.now(),
        "development_stage": stage,
    }
    template = "console/_queue.html" if request.headers.get("HX-Request") else "console/queue.html"
    return render(request, template, context)


# -- Hot items ------------------------------------------------------------------------------


@staff_view
@require_GET
def hot_items(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """The CS lead's list of escalated open tickets, longest escalated first."""
    return render(
        request,
        "console/hot_items.html",
        {"tickets": console.hot_items(viewer), "now": timezone.now()},
    )


@staff_view
@require_GET
def on_call(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """Who is on call now in each rotation, the next four weeks, and each calendar feed."""
    return render(
        request,
        "console/on_call.html",
        {"rotations": [rotation_now(r) for r in rotations()]},
    )


@staff_view
@require_GET
def sla_report(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """First-response attainment by organisation, support level, severity and month, over
    the tickets the viewer may see, for whole UTC months."""
    now = timezone.now()
    form = forms.SlaReportForm(request.GET or None)
    start, end = forms.SlaReportForm.default_period(now)
    if form.is_valid():
        start, end = form.period(now)
    tickets = selectors.tickets_visible_to(viewer).filter(
        received_at__gte=start, received_at__lt=end
    )
    tables = [
        (label, by, attainment(tickets, by=by, now=now))
        for by, (_, label) in ATTAINMENT_DIMENSIONS.items()
    ]
    return render(
        request,
        "console/sla_report.html",
        {"form": form, "tables": tables, "start": start, "last": end - timedelta(days=1)},
        status=200 if form.is_bound is False or form.is_valid() else 400,
    )


# -- The ticket page ------------------------------------------------------------------------


@staff_view
@require_GET
def ticket(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    return _ticket_page(request, viewer, selectors.ticket_for(viewer, pk))


@staff_view
@require_GET
def ticket_freshness(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    """Polled by the ticket page: a notice once someone else has changed the ticket."""
    current = selectors.ticket_for(viewer, pk)
    try:
        seen = int(request.GET.get("version", ""))
    except ValueError:
        seen = current.version
    return render(
        request,
        "console/_freshness.html",
        {"ticket": current, "changed": current.version != seen, "seen": seen},
    )


@staff_view
@require_GET
def attachment(request: HttpRequest, viewer: Viewer, pk: int, attachment_id: int) -> FileResponse:
    ticket = selectors.ticket_for(viewer, pk)
    return attachment_response(selectors.attachment_for(viewer, ticket, attachment_id))


def _forms_for(
    ticket: Ticket, bound: dict[str, forms.VersionedForm] | None = None
) -> dict[str, forms.VersionedForm]:
    """One unbound form per action at the ticket's version; `bound` replaces some."""
    policy = ticket.policy_version.document()
    initial = {"version": ticket.version}
    made: dict[str, forms.VersionedForm] = {
        "reply": forms.ReplyForm(initial={**initial, "visibility": "public"}),
        "assign": forms.AssignForm(
            initial={**initial, "assignee": ticket.assignee_id}, staff=console.active_staff()
        ),
        "severity": forms.SeverityForm(
            initial={**initial, "severity": ticket.severity}, policy=policy
        ),
        "status": forms.StatusForm(initial={**initial, "status": ticket.status}),
        "escalate": forms.EscalateForm(initial=initial),
        "out_of_scope": forms.OutOfScopeForm(initial=initial, policy=policy),
    }
    made.update(bound or {})
    return made


def _ticket_page(
    request: HttpRequest,
    viewer: Viewer,
    ticket: Ticket,
    *,
    bound: dict[str, forms.VersionedForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    policy = ticket.policy_version.document()
    level = policy.support_levels.get(ticket.support_level)
    audit = console.audit_trail(viewer, ticket)
    escalation = next((e for e in reversed(audit) if e.code == "ticket.escalated"), None)
    named = [ticket.assignee_id]
    for entry in audit:
        if entry.code in ("ticket.assigned", "ticket.unassigned", "dse.substituted"):
            named += [entry.data.get("previous"), entry.data.get("assignee")]
        elif entry.code.startswith("dse."):
            named.append(entry.data.get("engineer"))
    conversation = list(selectors.messages_for(viewer, ticket))
    loose = list(selectors.attachments_for(viewer, ticket).filter(message__isnull=True))
    context: dict[str, Any] = {
        "ticket": ticket,
        "policy": policy,
        "policy_version_number": policy_version_number(version=ticket.policy_version),
        "severity": console.severity_of(policy, ticket.severity),
        "support_level": level,
        "target": level.targets.get(ticket.severity) if level else None,
        "clock_state": first_response_state(ticket),
        "exclusion": next((e for e in policy.exclusions if e.key == ticket.out_of_scope), None),
        "conversation": conversation,
        "loose_attachments": loose,
        "audit": audit,
        "escalation": escalation,
        "staff_names": console.staff_names(named),
        "forms": _forms_for(ticket, bound),
        # The form just submitted stays on the page with its errors, even if the ticket's
        # state would hide it now (escalated, closed).
        "bound_key": next(iter(bound), "") if bound else "",
    }
    return render(request, "console/ticket.html", context, status=status)


# -- Actions --------------------------------------------------------------------------------

# What an action does with the locked ticket and the cleaned form; returns what happened.
Action = Callable[[Ticket, dict[str, Any]], str]
# Builds an action's form for a ticket from the POST data and files.
FormFactory = Callable[[Ticket, Any, Any], forms.VersionedForm]


def _act(
    request: HttpRequest,
    viewer: Viewer,
    pk: int,
    key: str,
    make_form: FormFactory,
    action: Action,
) -> HttpResponse:
    """Parse one action form, run it against the version it was rendered from, redirect.

    Invalid input: 400 with the errors beside the form. Stale version: 409 with the current
    state and the form as typed. Success: a redirect to the ticket with what happened.
    """
    ticket = selectors.ticket_for(viewer, pk)
    form = make_form(ticket, request.POST, request.FILES)
    if not form.is_valid():
        return _ticket_page(request, viewer, ticket, bound={key: form}, status=400)
    expected: int = form.cleaned_data["version"]
    try:
        with transaction.atomic():
            # Lock the row and check the version first: a stale form changes nothing, even
            # through a service that takes no expected version (ticket_reply).
            locked = selectors.ticket_for(viewer, pk, for_update=True)
            if locked.version != expected:
                raise VersionConflict(locked.version)
            done = action(locked, form.cleaned_data)
    except VersionConflict:
        current = selectors.ticket_for(viewer, pk)
        form.refreshed(current.version)
        warning = CONFLICT_MESSAGE.format(reference=current.reference)
        if request.FILES:
            warning += " Attach your files again."
        messages.warning(request, warning)
        return _ticket_page(request, viewer, current, bound={key: form}, status=409)
    except ValidationError as exc:
        _show_errors(form, exc)
        return _ticket_page(request, viewer, ticket, bound={key: form}, status=400)
    except PermissionDenied as exc:
        form.add_error(None, str(exc) or "You may not do this.")
        return _ticket_page(request, viewer, ticket, bound={key: form}, status=403)
    messages.success(request, done)
    return redirect("console:ticket", pk=pk)


def _show_errors(form: forms.VersionedForm, exc: ValidationError) -> None:
    """A service's errors beside the form, on the field they name when the form has it."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.message_dict.items():
        field = FIELD_ALIASES.get(name, name)
        if field in form.fields:
            form.add_error(field, errors)
        else:
            label = name.replace("_", " ").capitalize()
            form.add_error(None, [f"{label}: {message}" for message in errors])


@staff_view
@require_POST
def reply(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    def send(ticket: Ticket, data: dict[str, Any]) -> str:
        internal = data["visibility"] == "internal"
        services.ticket_reply(
            ticket=ticket,
            viewer=viewer,
            body=data["body"],
            internal=internal,
            uploads=data["attachments"],
            status=Status(data["status"]) if data["status"] else None,
        )
        done = "Internal note added." if internal else "Public reply sent."
        if data["status"]:
            done += f" Status: {Status(data['status']).label}."
        return done

    return _act(request, viewer, pk, "reply", lambda t, d, f: forms.ReplyForm(d, f), send)


@staff_view
@require_POST
def assign(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    to_me = "assign_to_me" in request.POST

    def give(ticket: Ticket, data: dict[str, Any]) -> str:
        assignee = viewer.staff if to_me else data["assignee"]
        if to_me and assignee is None:
            raise ValidationError(
                {"assignee": "Your login has no staff record, so nothing can be assigned to you."}
            )
        services.ticket_assign(
            ticket=ticket, assignee=assignee, viewer=viewer, expected_version=data["version"]
        )
        return f"Assigned to {assignee}." if assignee else "Unassigned."

    def form(ticket: Ticket, data: Any, files: Any) -> forms.VersionedForm:
        return forms.AssignForm(data, files, staff=console.active_staff())

    return _act(request, viewer, pk, "assign", form, give)


@staff_view
@require_POST
def severity(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    def change(ticket: Ticket, data: dict[str, Any]) -> str:
        previous_due = ticket.first_response_due_at
        changed = services.ticket_change_severity(
            ticket=ticket,
            severity=data["severity"],
            reason=data["reason"],
            actor=viewer.user,
            expected_version=data["version"],
        )
        done = f"Severity is now {changed.severity}."
        if changed.first_response_at is None and changed.first_response_due_at != previous_due:
            due = local_time(changed.first_response_due_at, viewer.time_zone)
            when = due.strftime("%a %d %b %Y, %H:%M %Z") if due else "no target"
            done += f" Target Initial Response re-derived from receipt: due {when}."
        return done

    def form(ticket: Ticket, data: Any, files: Any) -> forms.VersionedForm:
        return forms.SeverityForm(data, files, policy=ticket.policy_version.document())

    return _act(request, viewer, pk, "severity", form, change)


@staff_view
@require_POST
def status(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    def move(ticket: Ticket, data: dict[str, Any]) -> str:
        new = Status(data["status"])
        services.ticket_set_status(
            ticket=ticket, status=new, viewer=viewer, expected_version=data["version"]
        )
        return f"Status: {new.label}."

    return _act(request, viewer, pk, "status", lambda t, d, f: forms.StatusForm(d, f), move)


@staff_view
@require_POST
def escalate(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    def raise_it(ticket: Ticket, data: dict[str, Any]) -> str:
        services.ticket_escalate(
            ticket=ticket, reason=data["reason"], viewer=viewer, expected_version=data["version"]
        )
        return "Escalated to the CS lead; it is on the hot items list."

    return _act(request, viewer, pk, "escalate", lambda t, d, f: forms.EscalateForm(d, f), raise_it)


@staff_view
@require_POST
def out_of_scope(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    def close(ticket: Ticket, data: dict[str, Any]) -> str:
        services.ticket_close_out_of_scope(
            ticket=ticket,
            exclusion=data["exclusion"],
            note=data["note"],
            viewer=viewer,
            expected_version=data["version"],
        )
        policy = ticket.policy_version.document()
        name = next(e.name or e.key for e in policy.exclusions if e.key == data["exclusion"])
        return f"Closed as out of scope: {name}."

    def form(ticket: Ticket, data: Any, files: Any) -> forms.VersionedForm:
        return forms.OutOfScopeForm(data, files, policy=ticket.policy_version.document())

    return _act(request, viewer, pk, "out_of_scope", form, close)


# -- Voicemail triage -----------------------------------------------------------------------


def _triage_page(
    request: HttpRequest,
    viewer: Viewer,
    *,
    bound: dict[tuple[int, str], Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    bound = bound or {}
    rows = [
        {
            "voicemail": vm,
            "match": bound.get((vm.pk, "match"))
            or voicemail_forms.MatchForm(
                prefix=f"vm{vm.pk}", initial={"email": vm.contact.email if vm.contact else ""}
            ),
            "dismiss": bound.get((vm.pk, "dismiss"))
            or voicemail_forms.DismissForm(prefix=f"vm{vm.pk}"),
            "number": voicemail_services.display_number(vm.caller_number),
        }
        for vm in voicemail_selectors.triage_queue(viewer=viewer)
    ]
    return render(
        request,
        "console/voicemail_triage.html",
        {
            "rows": rows,
            "handled": voicemail_selectors.recently_handled(viewer=viewer),
            "now": timezone.now(),
        },
        status=status,
    )


@staff_view
@require_GET
def voicemail_triage(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """Voicemails with no ticket: unknown or withheld numbers, and policies that refuse them."""
    voicemail_services.require_triage(viewer)
    return _triage_page(request, viewer)


@staff_view
@require_POST
def voicemail_match(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    voicemail_services.require_triage(viewer)
    voicemail = get_object_or_404(Voicemail, pk=pk)
    form = voicemail_forms.MatchForm(request.POST, prefix=f"vm{pk}")
    if form.is_valid():
        try:
            ticket = voicemail_services.voicemail_open_ticket(
                voicemail=voicemail,
                contact=form.contact,
                viewer=viewer,
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(
                request, f"{ticket.reference} opened from the voicemail for {form.contact.name}."
            )
            return redirect("console:ticket", pk=ticket.pk)
    return _triage_page(request, viewer, bound={(pk, "match"): form}, status=400)


@staff_view
@require_POST
def voicemail_dismiss(request: HttpRequest, viewer: Viewer, pk: int) -> HttpResponse:
    voicemail_services.require_triage(viewer)
    voicemail = get_object_or_404(Voicemail, pk=pk)
    form = voicemail_forms.DismissForm(request.POST, prefix=f"vm{pk}")
    if form.is_valid():
        try:
            voicemail_services.voicemail_dismiss(
                voicemail=voicemail, viewer=viewer, note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, "Voicemail dismissed; it stays in the back office.")
            return redirect("console:voicemail_triage")
    return _triage_page(request, viewer, bound={(pk, "dismiss"): form}, status=400)
