"""Mail to ticket: opening, threading, refusing and ignoring, one stored message at a time."""

from __future__ import annotations

import base64
import runpy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured

import supporthub.settings as live_settings
from supporthub.customers.models import OrganisationMember, SupportContact
from supporthub.customers.services import support_contact_retire
from supporthub.intake.email.models import InboundMessage, Source
from supporthub.intake.email.outcome import Disposition, MailOutcome, MailUnprocessable
from supporthub.intake.email.tests.mailtools import eml, store
from supporthub.intake.email.threads import is_participant, ticketed, tickets_by_id
from supporthub.intake.email.ticketing import mail_to_ticket
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.notify.tokens import reply_address
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket
from supporthub.testing.world import World
from supporthub.tickets.conversation import ticket_add_message
from supporthub.tickets.models import (
    Attachment,
    AuditEntry,
    BodyFormat,
    Channel,
    Message,
    MessageKind,
    Status,
    Ticket,
)

# Monday 24 November 2025, 15:00 UTC: 10:00 in New York, inside Initech's business hours.
MONDAY = datetime(2025, 11, 24, 15, 0, tzinfo=UTC)


def _run(
    raw: bytes,
    *,
    at: datetime = MONDAY,
    envelope_sender: str | None = None,
    envelope_recipients: list[str] | None = None,
    source: Source = Source.SMTP,
) -> MailOutcome:
    inbound = store(
        raw,
        received_at=at,
        envelope_sender=envelope_sender,
        envelope_recipients=envelope_recipients,
        source=source,
    )
    outcome = mail_to_ticket(inbound=inbound)
    _record(inbound, outcome)
    return outcome


def _record(inbound: InboundMessage, outcome: MailOutcome) -> None:
    # What the inbox does with the outcome, so later mail can thread on this one.
    inbound.ticket_id = outcome.ticket_id
    inbound.ticket_message_id = outcome.ticket_message_id
    inbound.disposition = outcome.disposition
    inbound.save(update_fields=["ticket", "ticket_message", "disposition"])


def _ticket(outcome: MailOutcome) -> Ticket:
    assert outcome.ticket_id is not None, outcome.reason
    return Ticket.objects.get(pk=outcome.ticket_id)


def _opened(world: World, **kwargs: Any) -> Ticket:
    outcome = _run(eml(sender=f"Carol <{world.carol.email}>", **kwargs))
    assert outcome.disposition == Disposition.OPENED, outcome.reason
    return _ticket(outcome)


@pytest.mark.django_db
def test_mail_from_a_support_contact_opens_a_severity_3_ticket_timed_from_receipt(
    world: World,
) -> None:
    # The Date header says a week earlier: the clock starts at the server's receipt.
    ticket = _opened(world, date="Mon, 17 Nov 2025 08:00:00 -0500")
    assert ticket.channel == Channel.EMAIL
    assert ticket.severity == 3
    assert ticket.requester == world.carol
    assert ticket.organisation == world.organisation
    assert ticket.received_at == MONDAY
    assert ticket.subject == "Search is slow"
    assert ticket.body == "Queries take 30 seconds since this morning."
    assert ticket.first_response_due_at is not None and ticket.first_response_due_at > MONDAY
    codes = list(ticket.audit.values_list("code", flat=True))
    assert "ticket.opened" in codes and "mail.received" in codes and "mail.acknowledged" in codes


@pytest.mark.django_db
def test_the_acknowledgement_is_threaded_under_their_mail_and_points_to_the_hub_for_sev_1_2(
    world: World,
) -> None:
    ticket = _opened(world)
    [row] = OutboxMessage.objects.filter(ticket=ticket)
    assert row.kind == OutboxKind.ACKNOWLEDGED
    assert row.dedupe_key == f"ticket.acknowledged:ticket:{ticket.pk}"
    assert row.recipient == world.carol.email
    assert row.subject == f"[{ticket.reference}] Search is slow"
    assert row.headers["In-Reply-To"] == "<m1@mail.example>"
    assert "<m1@mail.example>" in row.headers["References"]
    assert row.headers["Reply-To"] == reply_address(ticket, world.carol)
    assert row.headers["Auto-Submitted"] == "auto-generated"
    for body in (row.text_body, row.html_body):
        assert ticket.reference in body
        assert "Severity 1 and 2" in body
        assert "http://127.0.0.1:8000/hub/new/" in body
        assert "Initial response due by" in body


@pytest.mark.django_db
def test_email_ticket_is_forced_to_severity_3_whatever_the_subject_says(world: World) -> None:
    ticket = _opened(world, subject="URGENT: Sev 1 production down")
    assert ticket.severity == 3
    asked = ticket.audit.get(code="mail.severity_requested")
    assert asked.data == {"requested": 1, "severity": 3}
    [row] = OutboxMessage.objects.filter(ticket=ticket)
    assert "your subject asked for Severity 1" in row.text_body


@pytest.mark.django_db
def test_a_policy_without_a_forced_email_severity_still_opens_severity_3(world: World) -> None:
    organisation = f.organisation(name="Umbrella")
    f.subscribe(organisation, policy_key="b2b-customer-success", level="customer-success")
    contact = f.add_contact(organisation, "Uma")
    outcome = _run(eml(sender=contact.email, subject="Severity 1: all down"))
    assert outcome.disposition == Disposition.OPENED
    ticket = _ticket(outcome)
    assert ticket.severity == 3
    [ack] = OutboxMessage.objects.filter(ticket=ticket)
    assert "no Target Initial Response under your support level" in ack.text_body
    assert "although your subject asked for Severity 1" in ack.text_body
    assert "http://127.0.0.1:8000/hub/new/" in ack.html_body


@pytest.mark.django_db
def test_a_reply_threaded_on_our_message_id_is_added_without_its_quoted_history(
    world: World,
) -> None:
    ticket = _opened(world)
    ours = OutboxMessage.objects.get(ticket=ticket).message_id
    body = (
        "It is still slow after the restart.\n\n"
        "On Mon, 24 Nov 2025 at 10:05, Support Hub <support@supporthub.example> wrote:\n"
        "> We have received your email\n"
    )
    outcome = _run(
        eml(
            sender=world.carol.email,
            subject="Re: something else entirely",
            body=body,
            message_id="<m2@mail.example>",
            extra=f"In-Reply-To: {ours}\nReferences: <m1@mail.example> {ours}\n",
        ),
        at=MONDAY + timedelta(hours=1),
    )
    assert outcome.disposition == Disposition.ADDED, outcome.reason
    assert outcome.ticket_id == ticket.pk
    message = Message.objects.get(pk=outcome.ticket_message_id or 0)
    assert message.kind == MessageKind.PUBLIC_REPLY
    assert message.author_contact == world.carol
    assert message.body == "It is still slow after the restart."
    assert message.created_at == MONDAY + timedelta(hours=1)
    # A customer's reply sends nothing back.
    assert OutboxMessage.objects.filter(ticket=ticket).count() == 1


@pytest.mark.django_db
def test_a_reply_threads_on_the_reference_in_the_subject(world: World) -> None:
    ticket = _opened(world)
    outcome = _run(
        eml(
            sender=world.carol.email.upper(),  # addresses match whatever their case
            subject=f"RE: [{ticket.reference}] Search is slow",
            message_id="<m2@mail.example>",
        )
    )
    assert outcome.disposition == Disposition.ADDED
    assert outcome.ticket_id == ticket.pk


@pytest.mark.django_db
def test_a_reply_threads_on_an_earlier_mails_message_id(world: World) -> None:
    ticket = _opened(world)
    outcome = _run(
        eml(
            sender=world.carol.email,
            subject="more logs",
            message_id="<m2@mail.example>",
            extra="In-Reply-To: <m1@mail.example>\n",
        )
    )
    assert outcome.disposition == Disposition.ADDED
    assert outcome.ticket_id == ticket.pk


@pytest.mark.django_db
def test_a_reply_threads_on_an_earlier_mails_8bit_message_id(world: World) -> None:
    # SMTPUTF8 mail: the Message-ID is stored as the reply's In-Reply-To will be read.
    ticket = _opened(world, message_id="<réf-1@mail.example>")
    outcome = _run(
        eml(
            sender=world.carol.email,
            subject="more logs",
            message_id="<m2@mail.example>",
            extra="In-Reply-To: <réf-1@mail.example>\n",
        )
    )
    assert outcome.disposition == Disposition.ADDED, outcome.reason
    assert outcome.ticket_id == ticket.pk


@pytest.mark.django_db
def test_a_reply_threads_on_the_signed_reply_address(world: World) -> None:
    ticket = _opened(world)
    outcome = _run(
        eml(sender=world.carol.email, subject="no reference here", message_id="<m2@x>"),
        envelope_recipients=[reply_address(ticket, world.carol)],
    )
    assert outcome.disposition == Disposition.ADDED
    assert outcome.ticket_id == ticket.pk


@pytest.mark.django_db
def test_a_tampered_reply_address_is_not_followed(world: World) -> None:
    ticket = _opened(world)
    forged = reply_address(ticket, world.carol).replace("reply+", "reply+9")
    outcome = _run(
        eml(sender=world.carol.email, subject="hello", message_id="<m2@x>"),
        envelope_recipients=[forged],
    )
    assert outcome.disposition == Disposition.OPENED
    assert outcome.ticket_id != ticket.pk


@pytest.mark.django_db
def test_a_forged_in_reply_to_never_attaches_mail_to_another_organisations_ticket(
    world: World,
) -> None:
    theirs = open_ticket(
        organisation=world.other_organisation,
        requester=world.olga,
        subject="Globex issue",
        body="x",
        severity=3,
        channel=Channel.HUB,
        received_at=MONDAY,
    )
    outcome = _run(
        eml(
            sender=world.carol.email,
            subject=f"Re: [{theirs.reference}] Globex issue",
            extra=f"In-Reply-To: <sh-{theirs.pk}@supporthub.example>\n",
        )
    )
    assert outcome.disposition == Disposition.OPENED
    assert outcome.ticket_id != theirs.pk
    mine = _ticket(outcome)
    assert mine.organisation == world.organisation
    assert theirs.reference not in mine.subject
    assert f"{theirs.reference} (found by" in outcome.reason
    assert not Message.objects.filter(ticket=theirs).exists()
    assert not AuditEntry.objects.filter(ticket=theirs, code__startswith="mail.").exists()


@pytest.mark.django_db
def test_a_colleague_who_never_wrote_on_a_ticket_is_not_a_participant(world: World) -> None:
    ticket = _opened(world)
    dave = f.add_contact(world.organisation, "Dave")
    assert is_participant(ticket, world.carol)
    assert not is_participant(ticket, dave)
    assert not is_participant(ticket, world.olga)
    outcome = _run(eml(sender=dave.email, subject=f"Re: [{ticket.reference}]", message_id="<d1@x>"))
    assert outcome.disposition == Disposition.OPENED
    assert outcome.ticket_id != ticket.pk
    # Once Dave has written on it (in the Support Hub, say) he is one.
    ticket_add_message(
        ticket=ticket, kind=MessageKind.PUBLIC_REPLY, body="me too", author_contact=dave
    )
    assert is_participant(ticket, dave)


@pytest.mark.django_db
def test_a_reply_to_a_closed_ticket_opens_a_new_one_that_refers_to_it(world: World) -> None:
    ticket = _opened(world)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    outcome = _run(
        eml(
            sender=world.carol.email,
            subject=f"Re: [{ticket.reference}] Search is slow",
            message_id="<m2@mail.example>",
        )
    )
    assert outcome.disposition == Disposition.OPENED
    follow_up = _ticket(outcome)
    assert follow_up.pk != ticket.pk
    assert follow_up.subject == "Search is slow"
    entry = follow_up.audit.get(code="mail.follow_up_of_closed")
    assert entry.data["reference"] == ticket.reference
    assert ticket.audit.filter(code="mail.followed_up_in").exists()
    ack = OutboxMessage.objects.get(ticket=follow_up)
    assert f"{ticket.reference} is closed" in ack.text_body


@pytest.mark.django_db
def test_a_reply_to_a_solved_ticket_reopens_it(world: World) -> None:
    ticket = _opened(world)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.SOLVED)
    outcome = _run(
        eml(sender=world.carol.email, subject=f"Re: {ticket.reference}", message_id="<m2@x>")
    )
    assert outcome.disposition == Disposition.ADDED
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


@pytest.mark.django_db
def test_mail_from_an_unknown_address_is_refused_with_one_reply_a_day(world: World) -> None:
    outcome = _run(eml(sender="Mallory <mallory@elsewhere.example>"))
    assert outcome.disposition == Disposition.REFUSED
    assert outcome.ticket_id is None
    assert not Ticket.objects.exists()
    [row] = OutboxMessage.objects.all()
    assert row.kind == OutboxKind.MAIL_AUTO_REPLY
    assert row.recipient == "mallory@elsewhere.example"
    assert row.ticket is None
    assert row.headers["In-Reply-To"] == "<m1@mail.example>"
    assert "Support Contacts" in row.text_body
    assert "Carol" not in row.text_body and "Initech" not in row.text_body
    # The same day: no second reply. The next day: one more.
    _run(
        eml(sender="mallory@elsewhere.example", message_id="<m2@x>"), at=MONDAY + timedelta(hours=3)
    )
    assert OutboxMessage.objects.count() == 1
    _run(
        eml(sender="mallory@elsewhere.example", message_id="<m3@x>"), at=MONDAY + timedelta(days=1)
    )
    assert OutboxMessage.objects.count() == 2


@pytest.mark.django_db
def test_an_organisation_member_is_told_who_their_support_contacts_are(world: World) -> None:
    user = User.objects.create_user("mia", email="mia@initech.example")
    OrganisationMember.objects.create(organisation=world.organisation, user=user, name="Mia")
    outcome = _run(eml(sender="mia@initech.example"))
    assert outcome.disposition == Disposition.REFUSED
    [row] = OutboxMessage.objects.all()
    assert "Initech" in row.text_body and "Carol" in row.text_body


@pytest.mark.django_db
def test_a_retired_contact_is_refused_and_told_so(world: World) -> None:
    support_contact_retire(contact=world.carol)
    outcome = _run(eml(sender=world.carol.email))
    assert outcome.disposition == Disposition.REFUSED
    assert "retired" in outcome.reason
    [row] = OutboxMessage.objects.all()
    assert "no longer a Support Contact of Initech" in row.text_body


@pytest.mark.parametrize(
    "extra",
    [
        "Auto-Submitted: auto-replied\n",
        "X-Auto-Response-Suppress: All\n",
        "Precedence: bulk\n",
        "Precedence: junk\n",
        "Precedence: list\n",
        "X-SupportHub-Ticket: SH-000001\n",
        "Return-Path: <>\n",
    ],
)
@pytest.mark.django_db
def test_auto_replies_and_loops_are_ignored_and_never_answered(world: World, extra: str) -> None:
    outcome = _run(eml(sender=world.carol.email, extra=extra))
    assert outcome.disposition == Disposition.IGNORED, outcome.reason
    assert not Ticket.objects.exists()
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_auto_submitted_no_is_a_person(world: World) -> None:
    outcome = _run(eml(sender=world.carol.email, extra="Auto-Submitted: no\n"))
    assert outcome.disposition == Disposition.OPENED


@pytest.mark.django_db
def test_a_null_envelope_sender_is_a_bounce(world: World) -> None:
    outcome = _run(eml(sender=world.carol.email), envelope_sender="")
    assert outcome.disposition == Disposition.IGNORED
    assert "null envelope sender" in outcome.reason
    # IMAP gives no envelope: an empty sender there is not evidence of a bounce.
    outcome = _run(
        eml(sender=world.carol.email, message_id="<m2@x>"),
        envelope_sender="",
        source=Source.IMAP,
    )
    assert outcome.disposition == Disposition.OPENED


@pytest.mark.django_db
def test_our_own_mail_coming_back_is_ignored(world: World) -> None:
    outcome = _run(eml(sender="Support Hub <support@supporthub.example>"))
    assert outcome.disposition == Disposition.IGNORED
    outcome = _run(eml(sender=world.carol.email, message_id="<sh-1-2@supporthub.example>"))
    assert outcome.disposition == Disposition.IGNORED
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_mail_without_a_usable_sender_is_unprocessable(world: World) -> None:
    inbound = store(eml(sender="undisclosed-recipients:;"), received_at=MONDAY)
    with pytest.raises(MailUnprocessable, match="From"):
        mail_to_ticket(inbound=inbound)
    inbound = store(
        eml(sender=f"{world.carol.email}, mallory@x.example", message_id="<m2@x>"),
        received_at=MONDAY,
    )
    with pytest.raises(MailUnprocessable, match="2 addresses"):
        mail_to_ticket(inbound=inbound)


@pytest.mark.django_db
def test_an_organisation_without_a_subscription_in_force_quarantines_the_mail(
    world: World,
) -> None:
    inbound = store(eml(sender=world.carol.email), received_at=datetime(2031, 3, 3, tzinfo=UTC))
    with pytest.raises(MailUnprocessable, match="no subscription in force"):
        mail_to_ticket(inbound=inbound)
    assert not Ticket.objects.exists()


def _with_attachments(sender: str, files: list[tuple[str, bytes]]) -> bytes:
    parts = [
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLogs attached.\r\n",
    ]
    for name, content in files:
        encoded = base64.encodebytes(content).decode().replace("\n", "\r\n")
        parts.append(
            f"--b1\r\nContent-Type: application/octet-stream\r\n"
            f'Content-Disposition: attachment; filename="{name}"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}"
        )
    head = (
        f"From: {sender}\r\nTo: support@supporthub.example\r\nSubject: logs\r\n"
        "Message-ID: <att@x>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    )
    return (head + "".join(parts) + "--b1--\r\n").encode()


@pytest.mark.django_db
def test_attachments_within_the_limits_are_kept_and_the_rest_noted(
    world: World, settings: Any
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.ATTACHMENTS_PER_MESSAGE = 2
    raw = _with_attachments(
        world.carol.email,
        [("a.log", b"a" * 10), ("big.bin", b"b" * 5000), ("c.log", b"c" * 10), ("d.log", b"d")],
    )
    outcome = _run(raw)
    assert outcome.disposition == Disposition.OPENED
    ticket = _ticket(outcome)
    assert sorted(a.filename for a in Attachment.objects.filter(ticket=ticket)) == [
        "a.log",
        "c.log",
    ]
    note = Message.objects.get(ticket=ticket, kind=MessageKind.INTERNAL_NOTE)
    assert "big.bin" in note.body and "d.log" in note.body
    assert ticket.audit.get(code="mail.attachments_left_out").data["files"][0].startswith("big.bin")
    ack = OutboxMessage.objects.get(ticket=ticket)
    assert "big.bin" in ack.text_body


@pytest.mark.django_db
def test_html_only_mail_is_kept_as_html(world: World) -> None:
    raw = (
        f"From: {world.carol.email}\r\nSubject: html\r\nMessage-ID: <h@x>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<p>Hello <b>there</b></p>\r\n"
    ).encode()
    outcome = _run(raw)
    ticket = _ticket(outcome)
    assert ticket.body_format == BodyFormat.HTML
    assert "<b>there</b>" in ticket.body


@pytest.mark.django_db
def test_nothing_is_written_when_the_mail_is_unprocessable(world: World) -> None:
    # Nested deeper than the stdlib parser goes: no part of it can be read.
    raw = (
        f"From: {world.carol.email}\r\nSubject: broken\r\nMessage-ID: <b@x>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    ).encode()
    for i in range(1, 1200):
        raw += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i - 1, i)
    inbound = store(raw, received_at=MONDAY)
    with pytest.raises(MailUnprocessable, match="Malformed MIME"):
        mail_to_ticket(inbound=inbound)
    assert not Ticket.objects.exists() and not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_colleague_is_pointed_to_the_hub_for_the_ticket_they_may_not_add_to_by_email(
    world: World,
) -> None:
    ticket = _opened(world)
    dave = f.add_contact(world.organisation, "Dave")
    outcome = _run(
        eml(
            sender=dave.email,
            subject=f"Re: [{ticket.reference}] Search is slow",
            message_id="<d@x>",
        )
    )
    new = _ticket(outcome)
    assert new.audit.get(code="mail.received").data["named_tickets"] == [ticket.reference]
    ack = OutboxMessage.objects.get(ticket=new)
    assert f"Your email named {ticket.reference}" in ack.text_body
    assert f"http://127.0.0.1:8000/hub/tickets/{ticket.pk}/" in ack.text_body
    # Another organisation's ticket is never named back to the sender.
    theirs = open_ticket(
        organisation=world.other_organisation,
        requester=world.olga,
        subject="Globex issue",
        body="x",
        severity=3,
        channel=Channel.HUB,
        received_at=MONDAY,
    )
    outcome = _run(eml(sender=dave.email, subject=f"[{theirs.reference}]", message_id="<d2@x>"))
    ack = OutboxMessage.objects.get(ticket=_ticket(outcome))
    assert theirs.reference not in ack.text_body and theirs.reference not in ack.html_body


@pytest.mark.django_db
def test_a_reply_whose_attachments_are_left_out_tells_the_sender_once_a_day(
    world: World, settings: Any
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 100
    ticket = _opened(world)
    OutboxMessage.objects.filter(ticket=ticket).delete()  # the acknowledgement went yesterday

    def reply(n: int) -> MailOutcome:
        raw = _with_attachments(world.carol.email, [(f"big{n}.bin", b"x" * 500)])
        raw = raw.replace(b"Subject: logs", f"Subject: Re: {ticket.reference}".encode())
        raw = raw.replace(b"<att@x>", f"<att{n}@x>".encode())
        return _run(raw, at=MONDAY + timedelta(hours=n))

    first = reply(1)
    assert first.disposition == Disposition.ADDED
    assert "The sender was told." in first.reason
    [notice] = OutboxMessage.objects.filter(ticket=ticket)
    assert notice.kind == OutboxKind.MAIL_AUTO_REPLY
    assert "big1.bin" in notice.text_body and "big1.bin" in notice.html_body
    assert notice.headers["In-Reply-To"] == "<att1@x>"
    second = reply(2)
    assert second.disposition == Disposition.ADDED
    assert "told" not in second.reason
    assert OutboxMessage.objects.filter(ticket=ticket).count() == 1
    # Both are noted on the ticket for staff.
    notes = Message.objects.filter(ticket=ticket, kind=MessageKind.INTERNAL_NOTE)
    assert [("big1.bin" in n.body, "big2.bin" in n.body) for n in notes] == [
        (True, False),
        (False, True),
    ]


@pytest.mark.django_db
def test_no_left_out_notice_on_the_day_the_ticket_was_acknowledged(
    world: World, settings: Any
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 100
    ticket = _opened(world)
    raw = _with_attachments(world.carol.email, [("big.bin", b"x" * 500)])
    raw = raw.replace(b"Subject: logs", f"Subject: Re: {ticket.reference}".encode())
    outcome = _run(raw)
    assert outcome.disposition == Disposition.ADDED
    assert [r.kind for r in OutboxMessage.objects.filter(ticket=ticket)] == [
        OutboxKind.ACKNOWLEDGED
    ]


@pytest.mark.django_db
def test_a_real_attachment_over_the_default_limit_is_left_out_and_kept_in_the_raw_mail(
    world: World,
) -> None:
    # 26 MB against the default 25 MB limit (generated here rather than committed).
    big = bytes(range(256)) * (26 * 1024 * 4)
    raw = _with_attachments(world.carol.email, [("dump.bin", big), ("small.txt", b"ok")])
    inbound = store(raw, received_at=MONDAY)
    outcome = mail_to_ticket(inbound=inbound)
    ticket = _ticket(outcome)
    assert [a.filename for a in Attachment.objects.filter(ticket=ticket)] == ["small.txt"]
    note = Message.objects.get(ticket=ticket, kind=MessageKind.INTERNAL_NOTE)
    assert "dump.bin (26.0 MB; the limit is 25.0 MB)" in note.body
    assert f"inbound message #{inbound.pk}" in note.body
    inbound.refresh_from_db()
    assert bytes(inbound.raw) == raw  # the stored mail still holds it


@pytest.mark.django_db
def test_a_no_reply_sender_is_refused_without_an_answer(world: World) -> None:
    outcome = _run(eml(sender="Alerts <no-reply@monitoring.example>"))
    assert outcome.disposition == Disposition.REFUSED
    assert "not answered" in outcome.reason
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_quarantined_message_reprocessed_after_the_fix_is_timed_from_its_first_receipt(
    world: World,
) -> None:
    organisation = f.organisation(name="Hooli")
    # No subscription yet (so the contact is written directly: the service checks the cap).
    hank = SupportContact.objects.create(
        organisation=organisation, name="Hank", email="hank@hooli.example"
    )
    inbound = store(eml(sender=hank.email), received_at=MONDAY)
    with pytest.raises(MailUnprocessable, match="Hooli has no subscription in force"):
        mail_to_ticket(inbound=inbound)
    f.subscribe(organisation, level="gold")  # the admin fixes the account, then reprocesses
    outcome = mail_to_ticket(inbound=inbound)
    assert outcome.disposition == Disposition.OPENED
    assert _ticket(outcome).received_at == MONDAY


def _authenticated(world: World, results: str, **kwargs: Any) -> bytes:
    return eml(
        sender=world.carol.email,
        extra=f"Authentication-Results: mx1.supporthub.example; {results}\n",
        **kwargs,
    )


@pytest.mark.django_db
def test_with_sender_checks_on_a_contact_needs_an_aligned_pass_from_our_mx(
    world: World, settings: Any
) -> None:
    settings.INBOUND_MAIL_AUTHSERV_ID = "mx1.supporthub.example"
    domain = world.carol.email.split("@")[1]
    passing = [
        f"dmarc=pass header.from={domain}",
        f"dkim=pass header.d={domain}",
        f"dkim=pass header.d=mail.{domain}",  # relaxed alignment: a subdomain signs
        f"spf=pass smtp.mailfrom=bounces@{domain}",
    ]
    for i, results in enumerate(passing):
        outcome = _run(_authenticated(world, results, message_id=f"<ok{i}@x>"))
        assert outcome.disposition == Disposition.OPENED, results
    failing = [
        f"dmarc=fail header.from={domain}",
        "dkim=pass header.d=elsewhere.example",  # signed, but by someone else
        "spf=pass smtp.mailfrom=elsewhere.example",
        f"dkim=fail header.d={domain}; spf=softfail smtp.mailfrom={domain}",
        "none",
    ]
    for i, results in enumerate(failing):
        inbound = store(_authenticated(world, results, message_id=f"<no{i}@x>"), received_at=MONDAY)
        with pytest.raises(MailUnprocessable, match="is not proven"):
            mail_to_ticket(inbound=inbound)
    # No result from our MX at all (only someone else's).
    raw = eml(
        sender=world.carol.email,
        message_id="<other-mx@x>",
        extra=f"Authentication-Results: mx.elsewhere.example; dmarc=pass header.from={domain}\n",
    )
    with pytest.raises(MailUnprocessable, match="no Authentication-Results from mx1"):
        mail_to_ticket(inbound=store(raw, received_at=MONDAY))
    assert Ticket.objects.count() == len(passing)


@pytest.mark.django_db
def test_a_forged_pass_below_our_mxs_result_is_not_believed(world: World, settings: Any) -> None:
    settings.INBOUND_MAIL_AUTHSERV_ID = "mx1.supporthub.example"
    domain = world.carol.email.split("@")[1]
    raw = eml(
        sender=world.carol.email,
        extra=(
            f"Authentication-Results: mx1.supporthub.example; dmarc=fail header.from={domain}\n"
            f"Authentication-Results: mx1.supporthub.example; dmarc=pass header.from={domain}\n"
        ),
    )
    with pytest.raises(MailUnprocessable, match="dmarc=fail"):
        mail_to_ticket(inbound=store(raw, received_at=MONDAY))


@pytest.mark.django_db
def test_sender_checks_are_off_by_default(world: World) -> None:
    domain = world.carol.email.split("@")[1]
    outcome = _run(_authenticated(world, f"dmarc=fail header.from={domain}"))
    assert outcome.disposition == Disposition.OPENED


@pytest.mark.django_db
def test_an_unproven_unknown_sender_is_not_answered(world: World, settings: Any) -> None:
    settings.INBOUND_MAIL_AUTHSERV_ID = "mx1.supporthub.example"
    raw = eml(
        sender="security@bank.example",
        extra=(
            "Authentication-Results: mx1.supporthub.example; dmarc=fail header.from=bank.example\n"
        ),
    )
    outcome = _run(raw)
    assert outcome.disposition == Disposition.REFUSED
    assert "not answered" in outcome.reason
    assert not OutboxMessage.objects.exists()


def test_a_bad_authserv_id_setting_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOUND_MAIL_AUTHSERV_ID", "mx1.example.com; dmarc=pass")
    with pytest.raises(ImproperlyConfigured, match="INBOUND_MAIL_AUTHSERV_ID="):
        runpy.run_path(live_settings.__file__)
    monkeypatch.setenv("INBOUND_MAIL_AUTHSERV_ID", " MX1.example.com ")
    assert runpy.run_path(live_settings.__file__)["INBOUND_MAIL_AUTHSERV_ID"] == "MX1.example.com"


@pytest.mark.django_db
def test_references_to_impossible_ticket_numbers_are_not_followed(world: World) -> None:
    huge = "9" * 25
    outcome = _run(
        eml(
            sender=world.carol.email,
            subject=f"Re: [SH-{huge}] and SH-000000",
            extra=f"In-Reply-To: <sh-{huge}@supporthub.example>\n",
        )
    )
    assert outcome.disposition == Disposition.OPENED
    assert "Not followed" not in outcome.reason


@pytest.mark.django_db
def test_a_ticket_named_several_ways_is_weighed_once(world: World) -> None:
    ticket = _opened(world)
    dave = f.add_contact(world.organisation, "Dave")
    outcome = _run(
        eml(
            sender=dave.email,
            subject=f"Re: [{ticket.reference}]",
            message_id="<d3@x>",
            extra=f"In-Reply-To: <sh-{ticket.pk}@supporthub.example>\n"
            f"References: <m1@mail.example> <sh-{ticket.pk}@supporthub.example>\n",
        )
    )
    assert outcome.reason.count(ticket.reference) == 1
    ack = OutboxMessage.objects.get(ticket=_ticket(outcome))
    assert ack.text_body.count(f"Your email named {ticket.reference}") == 1


# --- threading's compiled queries --------------------------------------------------------


def _columns(obj: Any) -> list[Any]:
    return [getattr(obj, field.attname) for field in type(obj)._meta.concrete_fields]


@pytest.mark.django_db
def test_threading_reads_the_tickets_in_bulk_would(world: World) -> None:
    first = _opened(world, message_id="<first@mail.example>")
    second = _opened(world, message_id="<second@mail.example>")
    ids = [second.pk, first.pk, 10**12]  # one that does not exist
    found = list(tickets_by_id(ids).values())
    expected = Ticket.objects.select_related("organisation", "requester", "policy_version").in_bulk(
        ids
    )
    assert {ticket.pk: ticket for ticket in found} == expected
    for ticket in found:
        assert _columns(ticket) == _columns(expected[ticket.pk])
        for related in ("organisation", "requester", "policy_version"):
            assert (
                ticket._state.fields_cache[related]
                == expected[ticket.pk]._state.fields_cache[related]
            )
            assert _columns(getattr(ticket, related)) == _columns(
                getattr(expected[ticket.pk], related)
            )
    assert list(tickets_by_id([10**12]).values()) == []


@pytest.mark.django_db
def test_threading_finds_earlier_mail_s_tickets_as_the_values_list_did(world: World) -> None:
    def stored(message_id: str, minutes: int, ticket: Ticket | None) -> InboundMessage:
        row = store(
            eml(sender=f"Carol <{world.carol.email}>", message_id=message_id),
            received_at=MONDAY + timedelta(minutes=minutes),
            dedupe_key=f"test:{message_id}:{minutes}",
        )
        row.ticket = ticket
        row.save(update_fields=["ticket"])
        return row

    one = _opened(world, message_id="<one@mail.example>")
    two = _opened(world, message_id="<two@mail.example>")
    # Two copies of one Message-ID with tickets (the later one's counts), one without a ticket,
    # and the message being processed itself (never its own evidence).
    stored("<copy@mail.example>", 5, two)
    stored("<copy@mail.example>", 1, one)
    stored("<bare@mail.example>", 2, None)
    processing = stored("<self@mail.example>", 3, one)
    asked = ["<copy@mail.example>", "<bare@mail.example>", "<self@mail.example>", "<none@x>"]
    expected = dict(
        InboundMessage.objects.filter(message_id__in=asked, ticket__isnull=False)
        .exclude(pk=processing.pk)
        .order_by("received_at")
        .values_list("message_id", "ticket_id")
    )
    found = ticketed(processing.pk, asked)
    assert found == expected
    assert found["<copy@mail.example>"] == two.pk
    assert "<self@mail.example>" not in found
