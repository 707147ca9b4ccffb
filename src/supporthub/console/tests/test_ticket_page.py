"""The ticket page: the facts an agent needs, the clock, the conversation, the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from supporthub.console.templatetags.console import AUDIT_LABELS, audit_label
from supporthub.console.tests.helpers import client_for, open_ticket
from supporthub.testing.world import World, viewer_of
from supporthub.tickets import services
from supporthub.tickets.models import AuditEntry, Ticket

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def ticket(world: World) -> Ticket:
    # Initech: Base, New York; S2 = 1 business day (10 hours inside 08:00-18:00).
    return open_ticket(world.organisation, world.carol, severity=2, ago=timedelta(hours=1))


def test_ticket_page_shows_the_facts_and_the_running_clock(world: World, ticket: Ticket) -> None:
    world.alice.time_zone = "Europe/London"
    world.alice.save()

    html = client_for(world.alice).get(reverse("console:ticket", args=[ticket.pk])).content.decode()

    assert ticket.reference in html and "Cluster is red" in html
    assert "Initech" in html and "America/New_York" in html
    assert "Carol" in html and world.carol.email in html
    assert "Severity Level 2" in html  # the policy's name for the severity
    assert "Support Hub" in html and "Incident" in html and "New" in html
    assert "Base" in html and "Elasticsearch Service Support Services Policy" in html
    assert "Target Initial Response" in html and "1 business day" in html
    # Received 14:00 UTC: 09:00 in New York (the organisation's), 14:00 in London (the agent's).
    assert "Wed 04 Mar 2026, 09:00" in html and "Wed 04 Mar 2026, 14:00" in html
    # Due: 10 business hours from 09:00 New York = Thursday 09:00 New York = 14:00 London.
    assert ticket.first_response_due_at is not None
    due = ticket.first_response_due_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert due == "2026-03-05T14:00:00Z"
    start = html.index('data-testid="first-response"')
    assert f'<time class="countdown" datetime="{due}">' in html[start : start + 300]
    assert "Thu 05 Mar 2026, 14:00" in html


def test_conversation_shows_internal_notes_distinctly_and_attachments_as_downloads(
    world: World, ticket: Ticket
) -> None:
    alice = viewer_of(world.alice)
    services.ticket_reply(
        ticket=ticket,
        viewer=alice,
        body="Checking the <b>slow log</b>.",
        internal=True,
        uploads=[SimpleUploadedFile("slow.log", b"took 9s", content_type="text/plain")],
    )
    services.ticket_reply(ticket=ticket, viewer=alice, body="We are on it.")

    html = client_for(world.alice).get(reverse("console:ticket", args=[ticket.pk])).content.decode()

    assert 'class="message internal_note"' in html
    assert 'class="message public_reply"' in html
    assert "Checking the &lt;b&gt;slow log&lt;/b&gt;." in html  # plain text stays text
    attachment = ticket.attachments.get()
    url = reverse("console:attachment", args=[ticket.pk, attachment.pk])
    assert f'href="{url}" download>slow.log</a>' in html


def test_attachment_downloads_never_render_inline(world: World, ticket: Ticket) -> None:
    upload = SimpleUploadedFile("x.html", b"<script>alert(1)</script>", content_type="text/html")
    services.ticket_reply(
        ticket=ticket, viewer=viewer_of(world.alice), body="See", uploads=[upload]
    )
    attachment = ticket.attachments.get()

    response = client_for(world.alice).get(
        reverse("console:attachment", args=[ticket.pk, attachment.pk])
    )

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"  # type: ignore[attr-defined]


def test_attachment_of_another_ticket_is_404(world: World, ticket: Ticket) -> None:
    other = open_ticket(world.organisation, world.carol)
    upload = SimpleUploadedFile("a.txt", b"a")
    services.ticket_reply(ticket=other, viewer=viewer_of(world.alice), body="x", uploads=[upload])
    attachment = other.attachments.get()

    response = client_for(world.alice).get(
        reverse("console:attachment", args=[ticket.pk, attachment.pk])
    )

    assert response.status_code == 404


def test_audit_trail_shows_readable_labels_with_actor_and_details(
    world: World, ticket: Ticket
) -> None:
    alice = viewer_of(world.alice)
    services.ticket_change_severity(
        ticket=ticket, severity=1, reason="Production down after all", actor=world.alice.user
    )
    services.ticket_assign(ticket=ticket, assignee=world.alice, viewer=alice)
    AuditEntry.objects.create(ticket=ticket, code="routing.mystery", data={}, at=ticket.received_at)

    html = client_for(world.alice).get(reverse("console:ticket", args=[ticket.pk])).content.decode()
    trail = html[html.index("Audit trail") :]

    assert "Ticket opened" in trail and "ticket.opened" not in trail.replace(
        'data-code="ticket.opened"', ""
    )
    assert "Severity changed" in trail and "Severity 2 → 1: Production down after all" in trail
    assert "Target Initial Response re-derived" in trail
    assert "Assigned" in trail and "nobody → Alice" in trail
    assert "Alice" in trail
    assert "routing.mystery" in trail  # an unknown code is shown as itself


def test_every_code_the_services_write_has_a_label() -> None:
    codes = {
        "ticket.opened", "ticket.severity_forced_by_channel", "ticket.severity_changed",
        "ticket.status_changed", "ticket.assigned", "ticket.unassigned", "ticket.escalated",
        "ticket.closed_out_of_scope", "ticket.imported", "message.public_reply",
        "message.internal_note", "message.auto_acknowledgement", "attachment.added",
        "sla.first_response_met", "sla.first_response_breached", "sla.first_response_rederived",
        "sla.first_response_retimed", "sla.policy_version_adopted",
    }  # fmt: skip
    assert codes <= set(AUDIT_LABELS)
    assert audit_label("sla.first_response_met") == "Target Initial Response met"


def test_escalation_and_out_of_scope_are_shown(world: World, ticket: Ticket) -> None:
    alice = viewer_of(world.alice)
    services.ticket_escalate(ticket=ticket, reason="CTO is calling", viewer=alice)
    services.ticket_close_out_of_scope(
        ticket=ticket, exclusion="third_party_software", note="Their plugin", viewer=alice
    )

    html = client_for(world.lee).get(reverse("console:ticket", args=[ticket.pk])).content.decode()

    assert "Escalated to the CS lead" in html and "CTO is calling" in html and "by Alice" in html
    assert "Closed as out of scope: Third-party software" in html
    assert "The problem is due to third party software." in html
    assert 'action="/console/tickets/' not in html.split("Audit trail")[0].split("conversation")[-1]


def test_ticket_page_query_count_does_not_grow_with_the_conversation(
    world: World, ticket: Ticket
) -> None:
    alice = viewer_of(world.alice)
    client = client_for(world.alice)
    url = reverse("console:ticket", args=[ticket.pk])

    def queries() -> int:
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        return len(captured)

    services.ticket_reply(
        ticket=ticket, viewer=alice, body="One", uploads=[SimpleUploadedFile("a", b"a")]
    )
    few = queries()
    for n in range(15):
        services.ticket_reply(
            ticket=ticket,
            viewer=alice,
            body=f"Note {n}",
            internal=n % 2 == 0,
            uploads=[SimpleUploadedFile(f"f{n}.txt", b"x")],
        )
    assert queries() == few


def test_freshness_notice_appears_once_someone_else_changes_the_ticket(
    world: World, ticket: Ticket
) -> None:
    client = client_for(world.alice)
    url = reverse("console:ticket_freshness", args=[ticket.pk])
    seen = ticket.version

    assert "changed since you opened it" not in client.get(url, {"version": seen}).content.decode()
    services.ticket_assign(ticket=ticket, assignee=world.lee, viewer=viewer_of(world.lee))
    assert "changed since you opened it" in client.get(url, {"version": seen}).content.decode()


def test_mail_entries_say_who_wrote_and_what_was_sent(world: World) -> None:
    from supporthub.intake.email.models import Source
    from supporthub.intake.email.services import inbox_store
    from supporthub.intake.email.tests.mailtools import eml
    from supporthub.intake.email.ticketing import mail_to_ticket

    raw = eml(sender=f"Carol <{world.carol.email}>", subject="URGENT sev 1: checkout is down")
    inbound = inbox_store(
        raw=raw, source=Source.SMTP, mailbox="smtp://test", envelope_sender=world.carol.email
    ).message
    outcome = mail_to_ticket(inbound=inbound)
    assert outcome.ticket_id is not None, outcome.reason

    page = reverse("console:ticket", args=[outcome.ticket_id])
    html = client_for(world.alice).get(page).content.decode()
    trail = html[html.index("Audit trail") :]

    assert "Email received" in trail
    assert (
        f"From {world.carol.email}, stored mail #{inbound.pk}; Message-ID &lt;m1@mail.example&gt;"
        in trail
    )
    assert "Acknowledgement emailed" in trail and f"To {world.carol.email}, at Severity 3" in trail
    assert "Asked for Severity 1; opened at Severity 3" in trail
