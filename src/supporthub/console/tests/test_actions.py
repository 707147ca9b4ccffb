"""The ticket page's actions: each goes through a service, shows errors beside its form, and
refuses a form rendered from an older version of the ticket without changing anything."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from supporthub.console.tests.helpers import client_for, open_ticket, rows
from supporthub.testing.world import World, viewer_of
from supporthub.tickets import services
from supporthub.tickets.models import (
    AuditEntry,
    FirstResponseStatus,
    Message,
    MessageKind,
    Status,
    Ticket,
)

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def ticket(world: World) -> Ticket:
    # Globex: Enhanced, 24x7: S3 due in one business day, S1 in one hour.
    return open_ticket(world.other_organisation, world.olga, severity=3, ago=timedelta(hours=2))


def post(client: Client, name: str, ticket: Ticket, **data: Any) -> Any:
    data.setdefault("version", ticket.version)
    return client.post(reverse(f"console:{name}", args=[ticket.pk]), data)


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


# -- Reply ----------------------------------------------------------------------------------


def test_public_reply_stops_the_clock_as_met(world: World, ticket: Ticket) -> None:
    client = client_for(world.alice)
    response = post(client, "reply", ticket, body="We are on it.", visibility="public")

    assert response.status_code == 302
    assert response["Location"] == reverse("console:ticket", args=[ticket.pk])
    ticket = fresh(ticket)
    assert ticket.first_response_status == FirstResponseStatus.MET
    assert ticket.status == Status.OPEN
    message = Message.objects.get(ticket=ticket)
    assert message.kind == MessageKind.PUBLIC_REPLY and message.author_staff == world.alice
    page = client.get(response["Location"]).content.decode()
    assert "Public reply sent." in page
    start = page.index('data-testid="first-response"')
    assert "Met" in page[start : start + 200]


def test_internal_note_leaves_the_clock_running(world: World, ticket: Ticket) -> None:
    response = post(
        client_for(world.alice), "reply", ticket, body="Slow log says GC.", visibility="internal"
    )

    assert response.status_code == 302
    ticket = fresh(ticket)
    assert ticket.first_response_status == FirstResponseStatus.PENDING
    assert ticket.first_response_at is None
    assert Message.objects.get(ticket=ticket).kind == MessageKind.INTERNAL_NOTE


def test_reply_with_files_and_status_in_one_step(world: World, ticket: Ticket) -> None:
    client = client_for(world.alice)
    files = [SimpleUploadedFile("a.txt", b"a"), SimpleUploadedFile("b.txt", b"bb")]
    response = client.post(
        reverse("console:reply", args=[ticket.pk]),
        {
            "version": ticket.version,
            "body": "Fixed in 8.15.1; see the notes.",
            "visibility": "public",
            "status": "pending_customer",
            "attachments": files,
        },
    )

    assert response.status_code == 302
    ticket = fresh(ticket)
    assert ticket.status == Status.PENDING_CUSTOMER
    assert sorted(ticket.attachments.values_list("filename", flat=True)) == ["a.txt", "b.txt"]


def test_empty_reply_is_refused_beside_the_form(world: World, ticket: Ticket) -> None:
    response = post(client_for(world.alice), "reply", ticket, body="   ", visibility="public")

    assert response.status_code == 400
    assert "Message: Write a message." in response.content.decode()
    assert not Message.objects.filter(ticket=ticket).exists()


def test_reply_form_has_the_hooks_the_browser_test_uses(world: World, ticket: Ticket) -> None:
    html = client_for(world.alice).get(reverse("console:ticket", args=[ticket.pk])).content.decode()
    form = html[html.index('id="reply"') : html.index("</form>", html.index('id="reply"'))]

    assert '<textarea name="body"' in form
    assert 'type="radio" name="visibility" value="public"' in form
    public = form[form.index('value="public"') : form.index('value="internal"')]
    assert "checked" in public
    assert f'name="version" value="{ticket.version}"' in form
    assert '<button class="primary" type="submit">Send</button>' in form


# -- Assign, status ------------------------------------------------------------------------


def test_assign_to_a_staff_member_and_to_me(world: World, ticket: Ticket) -> None:
    client = client_for(world.alice)
    assert post(client, "assign", ticket, assignee=world.lee.pk).status_code == 302
    assert fresh(ticket).assignee == world.lee

    ticket = fresh(ticket)
    assert post(client, "assign", ticket, assignee="", assign_to_me="1").status_code == 302
    assert fresh(ticket).assignee == world.alice

    ticket = fresh(ticket)
    assert post(client, "assign", ticket, assignee="").status_code == 302
    assert fresh(ticket).assignee is None


def test_assign_refuses_an_inactive_staff_member(world: World, ticket: Ticket) -> None:
    world.lee.is_active = False
    world.lee.save()
    response = post(client_for(world.alice), "assign", ticket, assignee=world.lee.pk)

    assert response.status_code == 400
    assert "Assignee: Select a valid choice." in response.content.decode()
    assert fresh(ticket).assignee is None


def test_status_change(world: World, ticket: Ticket) -> None:
    response = post(client_for(world.alice), "status", ticket, status="on_hold")

    assert response.status_code == 302
    assert fresh(ticket).status == Status.ON_HOLD
    assert AuditEntry.objects.filter(ticket=ticket, code="ticket.status_changed").exists()


def test_status_must_be_one_of_the_statuses(world: World, ticket: Ticket) -> None:
    response = post(client_for(world.alice), "status", ticket, status="vanished")

    assert response.status_code == 400
    assert "Status: Select a valid choice." in response.content.decode()
    assert fresh(ticket).status == Status.NEW


# -- Severity --------------------------------------------------------------------------------


def test_severity_change_rederives_the_due_time_from_receipt(world: World, ticket: Ticket) -> None:
    client = client_for(world.alice)
    response = post(client, "severity", ticket, severity=1, reason="Production is down")

    assert response.status_code == 302
    changed = fresh(ticket)
    assert changed.severity == 1
    # Enhanced S1: one hour from receipt (two hours ago), so already past due.
    assert changed.first_response_due_at == changed.received_at + timedelta(hours=1)
    entry = AuditEntry.objects.get(ticket=ticket, code="ticket.severity_changed")
    assert entry.data["reason"] == "Production is down" and entry.actor == world.alice.user
    page = client.get(response["Location"]).content.decode()
    assert "Severity is now 1. Target Initial Response re-derived from receipt: due" in page


def test_severity_change_needs_a_reason(world: World, ticket: Ticket) -> None:
    due = ticket.first_response_due_at
    response = post(client_for(world.alice), "severity", ticket, severity=1, reason="  ")

    assert response.status_code == 400
    assert "Reason: Say why the severity changes." in response.content.decode()
    unchanged = fresh(ticket)
    assert (unchanged.severity, unchanged.first_response_due_at) == (3, due)


def test_severity_must_be_one_of_the_policys(world: World, ticket: Ticket) -> None:
    response = post(client_for(world.alice), "severity", ticket, severity=7, reason="Why not")

    assert response.status_code == 400
    assert "Severity: Select a valid choice." in response.content.decode()
    assert fresh(ticket).severity == 3


# -- Escalate, hot items ---------------------------------------------------------------------


def test_escalation_appears_in_hot_items_with_reason_and_who(
    world: World, ticket: Ticket, frozen: Any
) -> None:
    older = open_ticket(world.organisation, world.carol, subject="Older")
    services.ticket_escalate(ticket=older, reason="Renewal at risk", viewer=viewer_of(world.lee))
    frozen.shift(timedelta(minutes=5))

    response = post(client_for(world.alice), "escalate", ticket, reason="Data loss suspected")
    assert response.status_code == 302

    page = client_for(world.lee).get(reverse("console:hot_items")).content.decode()
    assert rows(page.encode()) == [older.reference, ticket.reference]  # oldest first
    row = page[page.index(f'data-ticket="{ticket.reference}"') :]
    row = row[: row.index("</tr>")]
    assert "Data loss suspected" in row and "Alice" in row and "Globex" in row


def test_hot_items_show_how_long_since_escalation(
    world: World, ticket: Ticket, frozen: Any
) -> None:
    services.ticket_escalate(ticket=ticket, reason="Hot", viewer=viewer_of(world.alice))
    frozen.shift(timedelta(days=2, hours=3))

    page = client_for(world.lee).get(reverse("console:hot_items")).content.decode()

    assert "2\xa0days, 3\xa0hours" in page


def test_escalation_needs_a_reason(world: World, ticket: Ticket) -> None:
    response = post(client_for(world.alice), "escalate", ticket, reason="")

    assert response.status_code == 400
    assert "Reason: Say why it needs the CS lead." in response.content.decode()
    assert fresh(ticket).escalated_at is None


def test_escalating_twice_is_refused_beside_the_form(world: World, ticket: Ticket) -> None:
    services.ticket_escalate(ticket=ticket, reason="First", viewer=viewer_of(world.lee))
    ticket = fresh(ticket)
    response = post(client_for(world.alice), "escalate", ticket, reason="Second")

    assert response.status_code == 400
    assert "already escalated" in response.content.decode()
    assert fresh(ticket).escalation_reason == "First"


# -- Out of scope ----------------------------------------------------------------------------


def test_out_of_scope_close_needs_one_of_the_policys_exclusions(
    world: World, ticket: Ticket
) -> None:
    client = client_for(world.alice)
    refused = post(client, "out_of_scope", ticket, exclusion="bad_weather", note="")
    assert refused.status_code == 400
    assert "Exclusion: Choose one of the policy&#x27;s exclusions." in refused.content.decode()
    assert fresh(ticket).status == Status.NEW

    missing = post(client, "out_of_scope", ticket, note="")
    assert missing.status_code == 400
    assert "Choose the policy&#x27;s exclusion that applies." in missing.content.decode()

    done = post(client, "out_of_scope", ticket, exclusion="training", note="A how-to course")
    assert done.status_code == 302
    closed = fresh(ticket)
    assert (closed.status, closed.out_of_scope) == (Status.CLOSED, "training")
    note = Message.objects.get(ticket=ticket)
    assert note.kind == MessageKind.INTERNAL_NOTE and "A how-to course" in note.body


def test_out_of_scope_form_lists_exclusions_with_their_descriptions(
    world: World, ticket: Ticket
) -> None:
    html = client_for(world.alice).get(reverse("console:ticket", args=[ticket.pk])).content.decode()
    form = html[html.index('id="out_of_scope"') :]

    assert 'value="security_incident_investigation"' in form
    assert "Security incident investigation" in form
    assert "The investigation into a potential or actual security incident" in form


# -- Stale forms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("status", {"status": "solved"}),
        ("assign", {"assign_to_me": "1", "assignee": ""}),
        ("severity", {"severity": 1, "reason": "Worse"}),
        ("escalate", {"reason": "Hot"}),
        ("out_of_scope", {"exclusion": "training", "note": ""}),
        ("reply", {"body": "My answer, typed a while ago", "visibility": "public"}),
    ],
)
def test_stale_form_changes_nothing_and_shows_the_current_state(
    world: World, ticket: Ticket, action: str, data: dict[str, Any]
) -> None:
    stale = ticket.version
    services.ticket_assign(ticket=ticket, assignee=world.lee, viewer=viewer_of(world.lee))
    before = fresh(ticket)
    audit = AuditEntry.objects.filter(ticket=ticket).count()

    response = post(client_for(world.alice), action, ticket, version=stale, **data)

    assert response.status_code == 409
    html = response.content.decode()
    assert f"{ticket.reference} changed since you opened it; here is the current state." in html
    after = fresh(ticket)
    assert after.version == before.version
    assert (after.status, after.severity, after.assignee, after.escalated_at) == (
        before.status,
        before.severity,
        before.assignee,
        before.escalated_at,
    )
    assert AuditEntry.objects.filter(ticket=ticket).count() == audit
    assert not Message.objects.filter(ticket=ticket).exists()
    # The page now carries the current version, and what was typed is kept.
    assert f'name="version" value="{after.version}"' in html
    assert "Lee" in html  # the current assignee
    if action == "reply":
        assert "My answer, typed a while ago</textarea>" in html


def test_resubmitting_after_a_conflict_goes_through(world: World, ticket: Ticket) -> None:
    stale = ticket.version
    services.ticket_assign(ticket=ticket, assignee=world.lee, viewer=viewer_of(world.lee))
    client = client_for(world.alice)
    assert post(client, "status", ticket, version=stale, status="solved").status_code == 409

    response = post(client, "status", ticket, version=fresh(ticket).version, status="solved")

    assert response.status_code == 302
    assert fresh(ticket).status == Status.SOLVED


def test_missing_version_is_refused(world: World, ticket: Ticket) -> None:
    response = client_for(world.alice).post(
        reverse("console:status", args=[ticket.pk]), {"status": "solved"}
    )

    assert response.status_code == 400
    assert "The form has no ticket version; reload the ticket." in response.content.decode()
    assert fresh(ticket).status == Status.NEW


def test_closed_ticket_takes_no_reply(world: World, ticket: Ticket) -> None:
    services.ticket_set_status(ticket=ticket, status=Status.CLOSED, viewer=viewer_of(world.alice))
    client = client_for(world.alice)
    page = client.get(reverse("console:ticket", args=[ticket.pk])).content.decode()
    assert 'id="reply"' not in page and "it takes no more replies" in page

    response = post(client, "reply", fresh(ticket), body="Hello?", visibility="public")

    assert response.status_code == 400
    assert "is closed; open a new ticket to follow up." in response.content.decode()
    assert not Message.objects.filter(ticket=ticket).exists()


def test_oversized_attachment_is_refused_beside_the_form_and_nothing_is_kept(
    world: World, ticket: Ticket, settings: Any
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 10
    response = client_for(world.alice).post(
        reverse("console:reply", args=[ticket.pk]),
        {
            "version": ticket.version,
            "body": "Here is the heap dump.",
            "visibility": "internal",
            "attachments": [SimpleUploadedFile("heap.hprof", b"x" * 11)],
        },
    )

    assert response.status_code == 400
    assert "Attachments: heap.hprof is 0.0 MB; the limit is 0.0 MB." in response.content.decode()
    assert not Message.objects.filter(ticket=ticket).exists()
    assert fresh(ticket).version == ticket.version
