"""The organisation's ticket list and a ticket's page: what a customer sees, and never sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from supporthub.testing import factories as f
from supporthub.testing.world import World, viewer_of
from supporthub.tickets import services
from supporthub.tickets.models import Message, MessageKind, Status, Ticket

from .helpers import client_for, member_of, open_ticket, retired_contact_of


def _rows(page: str) -> list[str]:
    """The ticket references in the list, in order."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [chunk.split("<", 1)[0].split(" ·")[0] for chunk in body.split('hub-ref-small">')[1:]]


# -- The list ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_shows_every_ticket_of_the_organisation_and_none_of_another(world: World) -> None:
    dan = f.add_contact(world.organisation, "Dan")
    with time_machine.travel(datetime(2025, 3, 3, 15, 0, tzinfo=UTC), tick=False) as clock:
        carols = open_ticket(world.organisation, world.carol, "Carol's own")
        clock.shift(timedelta(minutes=5))
        dans = open_ticket(world.organisation, dan, "Opened by Dan")
        clock.shift(timedelta(minutes=5))
        unnamed = open_ticket(world.organisation, None, "From voicemail")
        clock.shift(timedelta(minutes=5))
        theirs = open_ticket(world.other_organisation, world.olga, "Globex secret")
        page = client_for(world.carol.user).get("/hub/").content.decode()
    # Newest first; Olga's organisation's ticket nowhere.
    assert _rows(page) == [unnamed.reference, dans.reference, carols.reference]
    assert "Globex secret" not in page and theirs.reference not in page
    assert "Dan" in page  # the requester column
    assert "Times are in <strong>America/New_York</strong>" in page
    # Severity as the policy names it, received time and due time in the viewer's zone.
    assert "Severity Level 2" in page
    assert "Mon 03 Mar 2025, 10:00" in page
    assert "due <time" in page
    # Olga sees only hers.
    olga_page = client_for(world.olga.user).get("/hub/").content.decode()
    assert _rows(olga_page) == [theirs.reference]


@pytest.mark.django_db
def test_list_filters_by_status_and_searches_subject_and_reference(world: World) -> None:
    alice = viewer_of(world.alice)
    open_one = open_ticket(world.organisation, world.carol, "Snapshot restore fails")
    solved = open_ticket(world.organisation, world.carol, "Kibana login loop")
    services.ticket_set_status(ticket=solved, status=Status.SOLVED, viewer=alice)
    closed = open_ticket(world.organisation, world.carol, "Old question")
    services.ticket_set_status(ticket=closed, status=Status.CLOSED, viewer=alice)
    client = client_for(world.carol.user)

    assert _rows(client.get("/hub/").content.decode()) == [open_one.reference]
    assert _rows(client.get("/hub/?status=solved").content.decode()) == [
        closed.reference,
        solved.reference,
    ]
    assert len(_rows(client.get("/hub/?status=all").content.decode())) == 3
    # Counts on the tabs.
    page = client.get("/hub/?status=all").content.decode()
    assert 'Open <span class="hub-count">1</span>' in page
    assert 'Solved and closed <span class="hub-count">2</span>' in page
    # Search: words of the subject, or the reference with or without its prefix and zeros.
    assert _rows(client.get("/hub/?status=all&q=kibana").content.decode()) == [solved.reference]
    assert _rows(client.get(f"/hub/?status=all&q={solved.reference}").content.decode()) == [
        solved.reference
    ]
    assert _rows(client.get(f"/hub/?status=all&q={solved.pk}").content.decode()) == [
        solved.reference
    ]
    empty = client.get("/hub/?status=all&q=nothing-like-this").content.decode()
    assert _rows(empty) == [] and "No ticket matches" in empty
    # An unknown filter falls back to open tickets rather than failing.
    assert _rows(client.get("/hub/?status=bogus").content.decode()) == [open_one.reference]


@pytest.mark.django_db
def test_list_paginates_25_a_page_keeping_the_filter(world: World) -> None:
    with time_machine.travel(datetime(2025, 3, 3, 15, 0, tzinfo=UTC), tick=False) as clock:
        for n in range(27):
            open_ticket(world.organisation, world.carol, f"Ticket {n}")
            clock.shift(timedelta(minutes=1))
        client = client_for(world.carol.user)
        first = client.get("/hub/?status=all").content.decode()
        second = client.get("/hub/?status=all&page=2").content.decode()
    assert len(_rows(first)) == 25 and len(_rows(second)) == 2
    assert "Page 1 of 2" in first and 'href="?status=all&amp;page=2"' in first
    assert "Ticket 26" in first and "Ticket 0" in second


def _list_queries(world: World, tickets: int) -> int:
    for n in range(tickets):
        open_ticket(world.organisation, world.carol if n % 2 else None, f"T{n}", 1 + n % 3)
    client = client_for(world.carol.user)
    client.get("/hub/?status=all")  # warm the session and the parsed-policy cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/hub/?status=all")
    assert response.status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_tickets(world: World) -> None:
    few = _list_queries(world, 5)
    Ticket.objects.all().delete()
    many = _list_queries(world, 30)
    assert few == many
    assert many <= 10


# -- A ticket ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ticket_page_shows_terms_due_time_in_viewer_zone_and_first_response_state(
    world: World,
) -> None:
    with time_machine.travel(datetime(2025, 3, 3, 15, 0, tzinfo=UTC), tick=False) as clock:
        ticket = open_ticket(world.organisation, world.carol, severity=1)
        page = client_for(world.carol.user).get(f"/hub/tickets/{ticket.pk}/").content.decode()
        clock.shift(timedelta(hours=1))
        services.ticket_reply(ticket=ticket, viewer=viewer_of(world.alice), body="On it.")
    assert f'data-testid="reference">{ticket.reference}<' in page
    assert "Severity Level 1" in page and "Base" in page and "4 business hours" in page
    assert "Incident" in page and "Carol" in page
    due = page.split('data-testid="due-at"', 1)[1].split("</p>", 1)[0]
    assert "Mon 03 Mar 2025, 14:00" in due and "EST" in due
    state = page.split('data-testid="first-response"', 1)[1].split("</p>", 1)[0]
    assert 'class="countdown"' in state

    page = client_for(world.carol.user).get(f"/hub/tickets/{ticket.pk}/").content.decode()
    state = page.split('data-testid="first-response"', 1)[1].split("</p>", 1)[0]
    assert ">Met<" in state
    assert "On it." in page and "Alice" in page  # staff by display name


@pytest.mark.django_db
def test_internal_notes_and_their_files_never_reach_the_customer(world: World) -> None:
    ticket = open_ticket(world.organisation, world.carol)
    alice = viewer_of(world.alice)
    note = services.ticket_reply(
        ticket=ticket,
        viewer=alice,
        body="INTERNAL: customer misconfigured shards",
        internal=True,
        uploads=[SimpleUploadedFile("internal-trace.txt", b"secret", "text/plain")],
    )
    services.ticket_escalate(ticket=ticket, reason="ESCALATION-REASON revenue", viewer=alice)
    services.ticket_reply(ticket=ticket, viewer=alice, body="Public answer")
    client = client_for(world.carol.user)
    page = client.get(f"/hub/tickets/{ticket.pk}/").content.decode()
    assert "Public answer" in page
    assert "INTERNAL" not in page and "internal-trace.txt" not in page
    assert "ESCALATION-REASON" not in page and "scalat" not in page
    internal_file = note.attachments.get()
    assert client.get(f"/hub/tickets/{ticket.pk}/attachments/{internal_file.pk}/").status_code == (
        404
    )


@pytest.mark.django_db
def test_another_organisations_ticket_and_attachment_are_404(world: World) -> None:
    mine = open_ticket(world.organisation, world.carol)
    theirs = open_ticket(world.other_organisation, world.olga)
    message = services.ticket_reply(
        ticket=theirs,
        viewer=viewer_of(world.olga),
        body="log attached",
        uploads=[SimpleUploadedFile("globex.log", b"x", "text/plain")],
    )
    their_file = message.attachments.get()
    client = client_for(world.carol.user)
    assert client.get(f"/hub/tickets/{theirs.pk}/").status_code == 404
    assert client.get(f"/hub/tickets/{theirs.pk}/attachments/{their_file.pk}/").status_code == 404
    # Their file under my ticket's URL: files are looked up through the ticket.
    assert client.get(f"/hub/tickets/{mine.pk}/attachments/{their_file.pk}/").status_code == 404
    assert client.post(f"/hub/tickets/{theirs.pk}/reply/", {"body": "x"}).status_code == 404
    assert theirs.messages.count() == 1


@pytest.mark.django_db
def test_attachment_downloads_never_render_inline(world: World) -> None:
    ticket = open_ticket(world.organisation, world.carol)
    message = services.ticket_reply(
        ticket=ticket,
        viewer=viewer_of(world.carol),
        body="see file",
        uploads=[SimpleUploadedFile("page.html", b"<script>alert(1)</script>", "text/html")],
    )
    attachment = message.attachments.get()
    client = client_for(world.carol.user)
    page = client.get(f"/hub/tickets/{ticket.pk}/").content.decode()
    url = f"/hub/tickets/{ticket.pk}/attachments/{attachment.pk}/"
    assert f'href="{url}"' in page
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="page.html"' in response["Content-Disposition"]
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_contact_reply_appears_and_reopens_a_pending_ticket(world: World) -> None:
    ticket = open_ticket(world.organisation, world.carol)
    alice = viewer_of(world.alice)
    services.ticket_reply(ticket=ticket, viewer=alice, body="Can you send the logs?")
    services.ticket_set_status(ticket=ticket, status=Status.PENDING_CUSTOMER, viewer=alice)
    client = client_for(world.carol.user)

    response = client.post(
        f"/hub/tickets/{ticket.pk}/reply/",
        {
            "body": "Here they are <b>now</b>",
            "attachments": [SimpleUploadedFile("gc.log", b"gc", "text/plain")],
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/hub/tickets/{ticket.pk}/#conversation"
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    reply = ticket.messages.get(author_contact=world.carol)
    assert reply.kind == MessageKind.PUBLIC_REPLY
    assert reply.attachments.get().filename == "gc.log"
    page = client.get(response["Location"]).content.decode()
    assert "Here they are &lt;b&gt;now&lt;/b&gt;" in page  # plain text, escaped
    assert "gc.log" in page
    assert f"Your reply was added to {ticket.reference}." in page


@pytest.mark.django_db
def test_htmx_reply_returns_the_updated_conversation_and_status(world: World) -> None:
    ticket = open_ticket(world.organisation, world.carol)
    alice = viewer_of(world.alice)
    services.ticket_set_status(ticket=ticket, status=Status.PENDING_CUSTOMER, viewer=alice)
    client = client_for(world.carol.user)
    response = client.post(
        f"/hub/tickets/{ticket.pk}/reply/", {"body": "Still failing"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section id="conversation"')
    assert "Still failing" in fragment and "Your reply was added." in fragment
    assert "<html" not in fragment
    # The facts and the status in the header are swapped out of band.
    assert 'id="ticket-facts" class="stack" hx-swap-oob="true"' in fragment
    assert 'id="ticket-status" hx-swap-oob="true">Open<' in fragment

    invalid = client.post(
        f"/hub/tickets/{ticket.pk}/reply/", {"body": "   "}, HTTP_HX_REQUEST="true"
    )
    assert invalid.status_code == 200  # so that htmx swaps the errors in
    assert "Write a message." in invalid.content.decode()
    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_reply_with_a_file_over_the_limit_adds_nothing(world: World, settings: object) -> None:
    ticket = open_ticket(world.organisation, world.carol)
    setattr(settings, "ATTACHMENT_MAX_BYTES", 10)  # noqa: B010 - pytest-django's settings
    response = client_for(world.carol.user).post(
        f"/hub/tickets/{ticket.pk}/reply/",
        {"body": "logs", "attachments": [SimpleUploadedFile("big.log", b"x" * 50)]},
    )
    assert response.status_code == 400
    assert "big.log is 50 bytes; the limit is 10 bytes." in response.content.decode()
    assert not Message.objects.filter(ticket=ticket).exists()
    assert not ticket.attachments.exists()


@pytest.mark.django_db
def test_member_and_retired_contact_read_but_cannot_reply(world: World) -> None:
    ticket = open_ticket(world.organisation, world.carol)
    for person in (member_of(world.organisation), retired_contact_of(world.organisation)):
        client = client_for(person.user)
        page = client.get(f"/hub/tickets/{ticket.pk}/").content.decode()
        assert "Cluster is red" in page
        assert 'name="body"' not in page
        assert escape(viewer_of(person).why_cannot_open()) in page
        refused = client.post(f"/hub/tickets/{ticket.pk}/reply/", {"body": "let me in"})
        assert refused.status_code == 403
        assert "Support Contact" in refused.content.decode()
    assert not ticket.messages.exists()


@pytest.mark.django_db
def test_closed_out_of_scope_ticket_names_the_exclusion_and_takes_no_reply(world: World) -> None:
    ticket = open_ticket(world.organisation, world.carol)
    services.ticket_close_out_of_scope(
        ticket=ticket,
        exclusion="third_party_software",
        note="Their own plugin",
        viewer=viewer_of(world.alice),
    )
    client = client_for(world.carol.user)
    page = client.get(f"/hub/tickets/{ticket.pk}/").content.decode()
    policy = ticket.policy_version.document()
    exclusion = next(e for e in policy.exclusions if e.key == "third_party_software")
    assert escape(exclusion.name) in page and escape(exclusion.description) in page
    assert "closed — open a new incident to follow up" in page
    assert 'name="body"' not in page
    assert "Their own plugin" not in page  # the closing note is internal
    refused = client.post(f"/hub/tickets/{ticket.pk}/reply/", {"body": "But why?"})
    assert refused.status_code == 400
    assert "is closed; open a new ticket to follow up." in refused.content.decode()
    assert not ticket.messages.filter(author_contact=world.carol).exists()
