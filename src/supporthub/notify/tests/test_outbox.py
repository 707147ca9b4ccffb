"""The outbox: what each customer-visible event enqueues, and how delivery sends and retries."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import call_command
from django.db import transaction

from supporthub.notify import delivery, services
from supporthub.notify.models import OutboxKind, OutboxMessage, OutboxState
from supporthub.notify.selectors import outbox_stale
from supporthub.notify.tokens import ReplyTokenInvalid, reply_token_for, reply_token_read
from supporthub.testing.tickets import open_ticket
from supporthub.testing.world import World, viewer_of
from supporthub.tickets import services as tickets
from supporthub.tickets.conversation import ticket_add_message
from supporthub.tickets.models import BodyFormat, Channel, MessageKind, Status, Ticket, TicketType
from supporthub.tickets.opening import ticket_import

# Monday 24 November 2025, 15:00 UTC: 10:00 in New York, inside Initech's business hours.
MONDAY = datetime(2025, 11, 24, 15, 0, tzinfo=UTC)


def _open(world: World, **kwargs: Any) -> Ticket:
    return open_ticket(
        organisation=world.organisation,
        requester=kwargs.pop("requester", world.carol),
        subject="Cluster is red",
        body="Since the upgrade.",
        severity=2,
        channel=Channel.HUB,
        received_at=MONDAY,
        **kwargs,
    )


def _rows(ticket: Ticket, kind: str | None = None) -> list[OutboxMessage]:
    rows = OutboxMessage.objects.filter(ticket=ticket).order_by("pk")
    return list(rows.filter(kind=kind) if kind else rows)


@pytest.fixture(autouse=True)
def _no_jitter(settings: Any) -> None:
    """The backoff's schedule exactly (the jitter is tested with the queue, worker.queue)."""
    settings.OUTBOX_BACKOFF_JITTER = 0


@pytest.mark.django_db
def test_opening_a_ticket_enqueues_one_acknowledgement_with_reference_and_due_time(
    world: World,
) -> None:
    ticket = _open(world)
    [row] = _rows(ticket)
    assert row.kind == OutboxKind.ACKNOWLEDGED
    assert row.recipient == world.carol.email
    assert row.subject == f"[{ticket.reference}] Cluster is red"
    assert row.state == OutboxState.PENDING
    assert ticket.first_response_due_at is not None
    due_local = ticket.first_response_due_at.astimezone(ZoneInfo("America/New_York"))
    for body in (row.text_body, row.html_body):
        assert ticket.reference in body
        assert "Severity Level 2" in body  # the policy's name for it
        assert "Target Initial Response" in body
        assert f"{due_local:%H:%M} EST" in body  # Carol's organisation's zone ...
        assert "UTC)" in body  # ... with UTC beside it
        assert f"http://127.0.0.1:8000/hub/tickets/{ticket.pk}/" in body
    assert row.headers["Auto-Submitted"] == "auto-generated"


@pytest.mark.django_db
def test_the_acknowledgement_uses_the_contacts_own_time_zone(world: World) -> None:
    world.carol.time_zone = "Asia/Tokyo"
    world.carol.save(update_fields=["time_zone"])
    ticket = _open(world)
    [row] = _rows(ticket)
    assert " JST " in row.text_body


@pytest.mark.django_db(transaction=True)
def test_the_acknowledgement_rolls_back_with_a_failed_open(world: World) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        _open(world)
        assert OutboxMessage.objects.count() == 1
        raise RuntimeError("the request failed after opening")
    assert OutboxMessage.objects.count() == 0
    assert Ticket.objects.count() == 0


@pytest.mark.django_db
def test_enqueueing_wakes_the_worker_only_after_commit(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    woken: list[bool] = []
    monkeypatch.setattr(services, "wake", lambda: woken.append(True))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _open(world)
    assert woken == []
    for callback in callbacks:
        callback()
    assert woken == [True]


@pytest.mark.django_db
def test_a_ticket_without_a_requester_or_imported_sends_no_acknowledgement(world: World) -> None:
    ticket = _open(world, requester=None)
    assert _rows(ticket) == []
    imported = ticket_import(
        organisation=world.organisation,
        requester=world.carol,
        subject="Old one",
        body="From the old helpdesk.",
        severity=3,
        type=TicketType.INCIDENT,
        channel=Channel.EMAIL,
        opened_at=MONDAY,
        first_response_at=None,
        status=Status.OPEN,
        external_id="OLD-1",
        viewer=viewer_of(world.alice),
    )
    assert _rows(imported) == []


@pytest.mark.django_db
def test_internal_notes_and_the_customers_own_replies_enqueue_nothing(world: World) -> None:
    ticket = _open(world)
    tickets.ticket_reply(
        ticket=ticket, viewer=viewer_of(world.alice), body="Their proxy again.", internal=True
    )
    tickets.ticket_reply(ticket=ticket, viewer=viewer_of(world.carol), body="Any news?")
    assert [r.kind for r in _rows(ticket)] == [OutboxKind.ACKNOWLEDGED]


@pytest.mark.django_db
def test_a_staff_public_reply_enqueues_one_mail_quoting_it_and_naming_the_new_status(
    world: World,
) -> None:
    ticket = _open(world)
    tickets.ticket_reply(ticket=ticket, viewer=viewer_of(world.alice), body="Looking now.")
    [row] = _rows(ticket, OutboxKind.STAFF_REPLY)
    assert "Looking now." in row.text_body
    assert "Looking now." in row.html_body
    assert "New → Open" in row.text_body
    assert "Auto-Submitted" not in row.headers  # a person wrote it
    # The status the reply set is in the reply's mail, not in a second one.
    assert _rows(ticket, OutboxKind.STATUS_CHANGED) == []


@pytest.mark.django_db
def test_an_html_staff_reply_is_sanitised_for_the_html_part_and_flattened_for_text(
    world: World,
) -> None:
    ticket = _open(world)
    ticket_add_message(
        ticket=ticket,
        kind=MessageKind.PUBLIC_REPLY,
        body='<p>Run <b>this</b> &amp; wait<script>alert("x")</script></p>',
        body_format=BodyFormat.HTML,
        author_staff=world.alice,
    )
    [row] = _rows(ticket, OutboxKind.STAFF_REPLY)
    assert "<script" not in row.html_body
    assert "<b>this</b>" in row.html_body
    assert "Run this & wait" in row.text_body
    assert "<b>" not in row.text_body


@pytest.mark.django_db
def test_a_status_change_enqueues_one_mail_saying_old_to_new(world: World) -> None:
    ticket = _open(world)
    tickets.ticket_set_status(
        ticket=ticket, status=Status.PENDING_CUSTOMER, viewer=viewer_of(world.alice)
    )
    tickets.ticket_set_status(
        ticket=ticket, status=Status.PENDING_CUSTOMER, viewer=viewer_of(world.alice)
    )  # no change, no mail
    [row] = _rows(ticket, OutboxKind.STATUS_CHANGED)
    assert "New → Pending customer" in row.text_body
    assert "New → <strong>Pending customer</strong>" in row.html_body


@pytest.mark.django_db
def test_closing_out_of_scope_mails_the_exclusion_but_never_the_internal_note(
    world: World,
) -> None:
    ticket = _open(world)
    tickets.ticket_close_out_of_scope(
        ticket=ticket,
        exclusion="third_party_software",
        note="Their proxy, secret detail.",
        viewer=viewer_of(world.alice),
    )
    [row] = _rows(ticket, OutboxKind.STATUS_CHANGED)
    assert "New → Closed" in row.text_body
    assert "out of scope" in row.text_body
    assert "secret detail" not in row.text_body + row.html_body
    assert _rows(ticket, OutboxKind.STAFF_REPLY) == []


@pytest.mark.django_db
def test_the_same_event_enqueued_twice_makes_one_row(world: World) -> None:
    ticket = _open(world)
    services.outbox_enqueue_acknowledgement(ticket=ticket)
    assert len(_rows(ticket)) == 1


@pytest.mark.django_db
def test_delivery_sends_text_and_html_with_threading_headers_and_reply_to(
    world: World,
) -> None:
    ticket = _open(world)
    [row] = _rows(ticket)
    assert delivery.outbox_deliver_due() == 1
    [sent] = mail.outbox
    assert sent.to == [world.carol.email]
    assert sent.subject == f"[{ticket.reference}] Cluster is red"
    assert sent.from_email == "Support Hub <support@supporthub.example>"
    assert ticket.reference in sent.body
    [(html, mimetype)] = sent.alternatives  # type: ignore[attr-defined]
    assert mimetype == "text/html"
    assert ticket.reference in str(html)
    parsed = message_from_bytes(sent.message().as_bytes())
    assert parsed["Message-ID"] == f"<sh-{ticket.pk}-{row.pk}@supporthub.example>"
    assert parsed["In-Reply-To"] == f"<sh-{ticket.pk}@supporthub.example>"
    assert parsed["References"] == f"<sh-{ticket.pk}@supporthub.example>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    reply_to = parsed["Reply-To"]
    assert reply_to.startswith("reply+") and reply_to.endswith("@supporthub.example")
    token = reply_to.removeprefix("reply+").removesuffix("@supporthub.example")
    assert reply_token_read(token) == (ticket.pk, world.carol.pk)
    assert [p.get_content_type() for p in parsed.walk()][1:] == ["text/plain", "text/html"]
    row.refresh_from_db()
    assert row.state == OutboxState.SENT
    assert row.attempts == 1
    assert row.sent_at is not None


@pytest.mark.django_db
def test_nothing_is_sent_twice_when_delivery_runs_twice(world: World) -> None:
    _open(world)
    assert delivery.outbox_deliver_due() == 1
    assert delivery.outbox_deliver_due() == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_reply_token_round_trips_and_a_tampered_one_is_refused(world: World) -> None:
    ticket = _open(world)
    token = reply_token_for(ticket, world.carol)
    assert reply_token_read(token) == (ticket.pk, world.carol.pk)
    assert reply_token_read(token.upper()) == (ticket.pk, world.carol.pk)  # case-folding MTAs
    ticket_id, contact_id, signature = token.split("-")
    other_ticket = f"{int(ticket_id) + 1}-{contact_id}-{signature}"
    flipped = f"{ticket_id}-{contact_id}-{signature[:-1]}{'0' if signature[-1] != '0' else '1'}"
    for bad in (other_ticket, flipped, f"{ticket_id}-{contact_id}", "garbage"):
        with pytest.raises(ReplyTokenInvalid):
            reply_token_read(bad)


def test_backoff_doubles_from_a_minute_and_stops_at_an_hour() -> None:
    assert [delivery.backoff(n) for n in (1, 2, 3, 4)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8)
    ]
    assert delivery.backoff(7) == timedelta(hours=1)
    assert delivery.backoff(30) == timedelta(hours=1)


@pytest.mark.django_db
def test_a_failing_mail_server_backs_off_then_marks_the_message_failed(
    world: World, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 4

    def refuse(self: EmailBackend, messages: Any) -> int:
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    gaps = []
    with time_machine.travel(MONDAY, tick=False) as clock:
        ticket = _open(world)
        [row] = _rows(ticket)
        for _ in range(3):
            assert delivery.outbox_deliver_due() == 1
            row.refresh_from_db()
            assert row.state == OutboxState.PENDING
            gaps.append(row.next_attempt_at - datetime.now(UTC))
            assert delivery.outbox_deliver_due() == 0  # not due again yet
            clock.move_to(row.next_attempt_at)
        assert delivery.outbox_deliver_due() == 1
    assert gaps == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    row.refresh_from_db()
    assert row.state == OutboxState.FAILED
    assert row.attempts == 4
    assert "SMTPServerDisconnected: Connection unexpectedly closed" in row.last_error
    assert delivery.outbox_deliver_due() == 0
    assert mail.outbox == []

    monkeypatch.undo()
    assert delivery.outbox_retry(ids=[row.pk]) == 1
    assert delivery.outbox_deliver_due() == 1
    row.refresh_from_db()
    assert row.state == OutboxState.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_message_left_sending_by_a_dead_worker_is_recovered(world: World) -> None:
    ticket = _open(world)
    [row] = _rows(ticket)
    now = datetime.now(UTC)
    OutboxMessage.objects.filter(pk=row.pk).update(
        state=OutboxState.SENDING, claimed_at=now - timedelta(minutes=5)
    )
    assert delivery.outbox_deliver_due(now=now) == 0  # another worker may still be sending
    assert outbox_stale(older_than=timedelta(minutes=10), now=now + timedelta(minutes=10)) == 1
    later = now + delivery.STUCK_AFTER
    assert delivery.outbox_deliver_due(now=later) == 1
    row.refresh_from_db()
    assert row.state == OutboxState.SENT
    assert row.attempts == 2  # the interrupted send counted
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_message_that_keeps_killing_its_worker_ends_up_failed(
    world: World, settings: Any
) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 3
    ticket = _open(world)
    [row] = _rows(ticket)
    now = datetime.now(UTC)
    OutboxMessage.objects.filter(pk=row.pk).update(
        state=OutboxState.SENDING, attempts=2, claimed_at=now - timedelta(hours=1)
    )
    assert delivery.outbox_deliver_due(now=now) == 0
    row.refresh_from_db()
    assert (row.state, row.attempts) == (OutboxState.FAILED, 3)
    assert "interrupted" in row.last_error
    assert mail.outbox == []


@pytest.mark.django_db
def test_admin_lists_the_outbox_read_only_and_retries_failed_messages(
    world: World, client: Any
) -> None:
    from django.contrib.auth.models import User

    ticket = _open(world)
    [row] = _rows(ticket)
    OutboxMessage.objects.filter(pk=row.pk).update(
        state=OutboxState.FAILED, attempts=10, last_error="SMTPDataError: 554 rejected"
    )
    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-tests")
    client.force_login(admin)
    page = client.get("/admin/notify/outboxmessage/?state__exact=failed")
    assert page.status_code == 200
    assert ticket.reference.encode() in page.content
    assert b"/admin/notify/outboxmessage/add/" not in page.content
    response = client.post(
        "/admin/notify/outboxmessage/",
        {"action": "retry_failed", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.state, row.attempts) == (OutboxState.PENDING, 0)


@pytest.mark.django_db
def test_outbox_stale_counts_rows_due_for_longer_than_asked(world: World) -> None:
    ticket = _open(world)
    [row] = _rows(ticket)
    due = row.next_attempt_at
    assert outbox_stale(older_than=timedelta(minutes=5), now=due + timedelta(minutes=4)) == 0
    assert outbox_stale(older_than=timedelta(minutes=5), now=due + timedelta(minutes=6)) == 1
    delivery.outbox_deliver_due()
    assert outbox_stale(older_than=timedelta(minutes=5), now=due + timedelta(minutes=6)) == 0


@pytest.mark.django_db
def test_the_deliver_command_sends_once(world: World) -> None:
    _open(world)
    call_command("outbox", "deliver", "--once")
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_postgresql_claim_disjoint_rows(world: World) -> None:
    from django.db import connection

    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE instead of row locks")
    for n in range(4):
        open_ticket(
            organisation=world.organisation,
            requester=world.carol,
            subject=f"Ticket {n}",
            body="Body.",
            severity=3,
            channel=Channel.HUB,
        )
    ids = sorted(OutboxMessage.objects.values_list("pk", flat=True))
    claimed: list[int] = []

    def other_worker() -> None:
        try:
            claimed.extend(delivery.OUTBOX.claim(now=datetime.now(UTC), limit=10))
        finally:
            connection.close()  # this thread's own connection

    with transaction.atomic():
        # This worker holds the first two rows (as if mid-claim); the other must skip them.
        list(OutboxMessage.objects.select_for_update().filter(pk__in=ids[:2]))
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(timeout=30)
    assert sorted(claimed) == ids[2:]


@pytest.mark.django_db
def test_a_slow_worker_does_not_send_a_row_another_worker_took_back(world: World) -> None:
    ticket = _open(world)
    now = datetime.now(UTC)
    [claimed] = delivery.OUTBOX.claim(now=now, limit=10)
    stale = OutboxMessage.objects.get(pk=claimed)
    # Meanwhile another worker recovered it as stuck and claimed it afresh.
    OutboxMessage.objects.filter(pk=claimed).update(claimed_at=now + timedelta(minutes=16))
    delivery.OUTBOX.process(stale, handle=lambda row: delivery.send(row, connection=None), now=now)
    assert mail.outbox == []
    assert _rows(ticket)[0].state == OutboxState.SENDING


@pytest.mark.django_db
def test_any_mail_without_a_ticket_is_enqueued_once_per_event_and_delivered(
    world: World, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for _ in range(2):  # a retried handler
        services.outbox_enqueue(
            kind=OutboxKind.MAIL_AUTO_REPLY,
            dedupe_key="mail.auto_reply:stranger@example.com:2025-11-24",
            recipient="stranger@example.com",
            subject="Re:  How do I\n get support?",
            template="notify/staff_reply",
            context={"reply_text": "Ask Carol.", "reply_html": "<p>Ask Carol.</p>"},
        )
    [row] = OutboxMessage.objects.filter(ticket=None)
    assert row.subject == "Re: How do I get support?"
    assert row.headers == {"Auto-Submitted": "auto-generated"}

    assert delivery.outbox_deliver_due(limit=10) == 1

    [sent] = mail.outbox
    assert sent.to == ["stranger@example.com"]
    assert "Ask Carol." in sent.body
    assert sent.extra_headers["Message-ID"] == f"<sh-mail-{row.pk}@{settings.REPLY_DOMAIN}>"
