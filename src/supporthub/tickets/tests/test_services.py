"""Ticket writes: conversation rules, assignment, status, out-of-scope closing, escalation,
attachments, import, and optimistic concurrency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from supporthub.access import Viewer, viewer_for
from supporthub.customers.models import OrganisationMember
from supporthub.testing.world import World, viewer_of
from supporthub.tickets import conversation, opening, selectors, services
from supporthub.tickets.locks import VersionConflict
from supporthub.tickets.models import (
    Attachment,
    AuditEntry,
    Channel,
    FirstResponseStatus,
    Message,
    MessageKind,
    Status,
    Ticket,
    TicketType,
)
from supporthub.tickets.opening import TicketRequest


def _viewer(world: World, name: str) -> Viewer:
    people = {"carol": world.carol, "olga": world.olga}
    return viewer_of(people[name] if name in people else getattr(world, name))


def _open(world: World) -> Ticket:
    return opening.ticket_open(
        request=TicketRequest(
            organisation=world.organisation,
            requester=world.carol,
            subject="Cluster is red",
            body="Since the upgrade.",
            severity=2,
            channel=Channel.HUB,
        )
    )


@pytest.mark.django_db
def test_staff_public_reply_meets_the_clock_and_opens_a_new_ticket(world: World) -> None:
    ticket = _open(world)
    services.ticket_reply(ticket=ticket, viewer=_viewer(world, "alice"), body="Looking now.")
    ticket.refresh_from_db()
    assert ticket.first_response_status == FirstResponseStatus.MET
    assert ticket.status == Status.OPEN
    assert ticket.version == 2
    codes = list(ticket.audit.values_list("code", flat=True))
    assert codes == [
        "ticket.opened",
        "message.public_reply",
        "sla.first_response_met",
        "ticket.status_changed",
    ]


@pytest.mark.django_db
def test_internal_note_does_not_stop_the_clock_and_customers_never_see_it(world: World) -> None:
    ticket = _open(world)
    services.ticket_reply(
        ticket=ticket, viewer=_viewer(world, "alice"), body="Customer's fault?", internal=True
    )
    ticket.refresh_from_db()
    assert ticket.first_response_at is None
    carol = _viewer(world, "carol")
    assert list(selectors.messages_for(carol, ticket)) == []
    assert len(selectors.messages_for(_viewer(world, "alice"), ticket)) == 1
    assert list(selectors.audit_for(carol, ticket)) == []


@pytest.mark.django_db
def test_customers_cannot_write_internal_notes(world: World) -> None:
    ticket = _open(world)
    with pytest.raises(PermissionDenied):
        services.ticket_reply(
            ticket=ticket, viewer=_viewer(world, "carol"), body="psst", internal=True
        )
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_customer_reply_reopens_a_ticket_pending_on_the_customer(world: World) -> None:
    ticket = _open(world)
    services.ticket_set_status(
        ticket=ticket, status=Status.PENDING_CUSTOMER, viewer=_viewer(world, "alice")
    )
    services.ticket_reply(ticket=ticket, viewer=_viewer(world, "carol"), body="Logs attached.")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.first_response_at is None  # a customer reply is not a first response


@pytest.mark.django_db
def test_a_closed_ticket_takes_no_more_messages(world: World) -> None:
    ticket = _open(world)
    services.ticket_set_status(ticket=ticket, status=Status.CLOSED, viewer=_viewer(world, "alice"))
    with pytest.raises(ValidationError) as error:
        services.ticket_reply(ticket=ticket, viewer=_viewer(world, "carol"), body="Still broken")
    assert "closed" in error.value.message_dict["body"][0]


@pytest.mark.django_db
def test_read_only_members_and_retired_contacts_cannot_reply_and_are_told_why(
    world: World,
) -> None:
    ticket = _open(world)
    member = OrganisationMember.objects.create(
        organisation=world.organisation, user=User.objects.create(username="mo"), name="Mo"
    )
    viewer = viewer_for(member.user)
    assert viewer is not None and viewer.is_customer and not viewer.can_open_incidents
    with pytest.raises(PermissionDenied) as error:
        services.ticket_reply(ticket=ticket, viewer=viewer, body="hello")
    assert "Only the named Support Contacts of Initech" in str(error.value)
    assert selectors.tickets_visible_to(viewer).filter(pk=ticket.pk).exists()


@pytest.mark.django_db
def test_close_out_of_scope_needs_one_of_the_policy_exclusions(world: World) -> None:
    ticket = _open(world)
    alice = _viewer(world, "alice")
    with pytest.raises(ValidationError) as error:
        services.ticket_close_out_of_scope(ticket=ticket, exclusion="bored", note="", viewer=alice)
    assert "third_party_software" in error.value.message_dict["exclusion"][0]
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    services.ticket_close_out_of_scope(
        ticket=ticket, exclusion="third_party_software", note="Their proxy.", viewer=alice
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.out_of_scope) == (Status.CLOSED, "third_party_software")
    note = ticket.messages.get()
    assert note.kind == "internal_note" and "Third-party software" in note.body


@pytest.mark.django_db
def test_customers_cannot_assign_change_status_or_close(world: World) -> None:
    ticket = _open(world)
    carol = _viewer(world, "carol")
    with pytest.raises(PermissionDenied):
        services.ticket_assign(ticket=ticket, assignee=world.alice, viewer=carol)
    with pytest.raises(PermissionDenied):
        services.ticket_set_status(ticket=ticket, status=Status.SOLVED, viewer=carol)
    with pytest.raises(PermissionDenied):
        services.ticket_escalate(ticket=ticket, reason="now", viewer=carol)
    ticket.refresh_from_db()
    assert ticket.version == 1


@pytest.mark.django_db
def test_stale_version_changes_nothing(world: World) -> None:
    ticket = _open(world)
    alice = _viewer(world, "alice")
    services.ticket_assign(ticket=ticket, assignee=world.alice, viewer=alice, expected_version=1)
    with pytest.raises(VersionConflict) as error:
        services.ticket_set_status(
            ticket=ticket, status=Status.SOLVED, viewer=alice, expected_version=1
        )
    assert error.value.current == 2
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


@pytest.mark.django_db
def test_escalation_goes_to_the_hot_items_once(world: World) -> None:
    ticket = _open(world)
    alice = _viewer(world, "alice")
    services.ticket_escalate(ticket=ticket, reason="Revenue impact", viewer=alice)
    lee = _viewer(world, "lee")
    assert [t.pk for t in selectors.hot_items(lee)] == [ticket.pk]
    assert selectors.hot_items(lee)[0].escalation_reason == "Revenue impact"
    with pytest.raises(ValidationError):
        services.ticket_escalate(ticket=ticket, reason="again", viewer=alice)


@pytest.mark.django_db
def test_visibility_by_role(world: World) -> None:
    mine = _open(world)
    theirs = opening.ticket_open(
        request=TicketRequest(
            organisation=world.other_organisation,
            requester=world.olga,
            subject="Other",
            body="",
            severity=3,
            channel=Channel.HUB,
        ),
    )
    visible = {
        name: set(selectors.tickets_visible_to(_viewer(world, name)).values_list("pk", flat=True))
        for name in ("carol", "olga", "alice", "amy", "lee")
    }
    assert visible["carol"] == {mine.pk}
    assert visible["olga"] == {theirs.pk}
    assert visible["alice"] == visible["lee"] == {mine.pk, theirs.pk}
    assert visible["amy"] == {mine.pk}  # the account manager of Initech only


@pytest.mark.django_db
def test_attachment_over_the_limit_is_refused_naming_file_and_limit(world: World) -> None:
    ticket = _open(world)
    upload = SimpleUploadedFile("dump.bin", b"x" * 2048)
    with override_settings(ATTACHMENT_MAX_BYTES=1024):
        with pytest.raises(ValidationError) as error:
            conversation.attachment_add(
                ticket=ticket, upload=upload, viewer=_viewer(world, "carol")
            )
    assert "dump.bin" in error.value.message_dict["file"][0]
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_attachment_on_an_internal_note_is_internal(world: World, settings: object) -> None:
    ticket = _open(world)
    message = services.ticket_reply(
        ticket=ticket,
        viewer=_viewer(world, "alice"),
        body="trace",
        internal=True,
        uploads=[SimpleUploadedFile("../../etc/trace.txt", b"secret", "text/plain")],
    )
    attachment = message.attachments.get()
    assert attachment.internal and attachment.filename == "trace.txt"
    assert "etc" not in attachment.file.name and ".." not in attachment.file.name
    assert list(selectors.attachments_for(_viewer(world, "carol"), ticket)) == []


@pytest.mark.django_db
def test_import_keeps_sla_history(world: World) -> None:
    opened = datetime(2025, 3, 3, 13, 0, tzinfo=UTC)  # Monday 08:00 New York; Base
    ticket = opening.ticket_import(
        organisation=world.organisation,
        requester=world.carol,
        subject="Old",
        body="",
        severity=2,  # 1 business day: due Monday 18:00 New York
        type=TicketType.QUESTION,
        channel=Channel.EMAIL,
        opened_at=opened,
        first_response_at=opened + timedelta(hours=11),
        status=Status.SOLVED,
        external_id="ZD-1",
        viewer=_viewer(world, "alice"),
    )
    assert ticket.severity == 2  # history is kept even where the channel rule forces 3 now
    assert ticket.first_response_due_at == datetime(2025, 3, 3, 23, 0, tzinfo=UTC)
    assert ticket.first_response_status == FirstResponseStatus.BREACHED
    assert ticket.status == Status.SOLVED
    assert AuditEntry.objects.filter(ticket=ticket, code="ticket.imported").exists()
    with pytest.raises(PermissionDenied):
        opening.ticket_import(
            organisation=world.organisation,
            requester=None,
            subject="x",
            body="",
            severity=3,
            type=TicketType.QUESTION,
            channel=Channel.EMAIL,
            opened_at=opened,
            first_response_at=None,
            status=Status.SOLVED,
            external_id="ZD-2",
            viewer=_viewer(world, "carol"),
        )


@pytest.mark.django_db
def test_an_imported_open_ticket_sends_no_warning_that_fell_due_before_the_import(
    world: World,
) -> None:
    from supporthub.sla.warnings import breach_scan

    now = datetime.now(UTC)

    def imported(opened_at: datetime, external_id: str) -> Ticket:
        return opening.ticket_import(
            organisation=world.organisation,
            requester=world.carol,
            subject="Still open",
            body="",
            severity=3,  # Base: 2 business days
            type=TicketType.INCIDENT,
            channel=Channel.EMAIL,
            opened_at=opened_at,
            first_response_at=None,
            status=Status.OPEN,
            external_id=external_id,
            viewer=_viewer(world, "alice"),
        )

    old = imported(now - timedelta(days=30), "ZD-OLD")
    assert old.first_response_due_at is not None and old.first_response_due_at < now
    assert (old.sla_warned_point, old.sla_next_warning_at) == (100, None)

    fresh = imported(now - timedelta(minutes=1), "ZD-NEW")
    assert fresh.sla_warned_point == 0
    assert fresh.sla_next_warning_at is not None and fresh.sla_next_warning_at > now

    breach_scan(now=now)
    assert not AuditEntry.objects.filter(
        ticket__in=[old, fresh], code__in=["sla.warning", "sla.breached"]
    ).exists()


def _columns(obj: Any) -> list[Any]:
    return [getattr(obj, field.attname) for field in type(obj)._meta.concrete_fields]


@pytest.mark.django_db
def test_adding_a_message_locks_the_ticket_and_reads_what_get_reads(world: World) -> None:
    ticket = _open(world)
    with CaptureQueriesContext(connection) as captured:
        conversation.ticket_add_message(
            ticket=ticket, kind=MessageKind.PUBLIC_REPLY, body="Hello.", author_contact=world.carol
        )
    locks = [q["sql"] for q in captured.captured_queries if '"tickets_ticket"' in q["sql"]]
    assert locks and locks[0].startswith("SELECT")
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in locks[0]
    with pytest.raises(Ticket.DoesNotExist, match="Ticket matching query does not exist."):
        conversation.ticket_add_message(
            ticket=Ticket(pk=10**12), kind=MessageKind.PUBLIC_REPLY, body="Hello."
        )


@pytest.mark.django_db
def test_a_message_s_audit_entry_is_the_one_audit_would_have_written(world: World) -> None:
    ticket = _open(world)
    at = datetime(2025, 11, 24, 15, 0, tzinfo=UTC)
    message = conversation.ticket_add_message(
        ticket=ticket,
        kind=MessageKind.PUBLIC_REPLY,
        body="Still red.",
        author_contact=world.carol,
        at=at,
    )
    entry = AuditEntry.objects.get(ticket=ticket, code="message.public_reply")
    assert (entry.actor_id, entry.at, entry.data) == (
        world.carol.user_id,
        at,
        {"message": message.pk},
    )
