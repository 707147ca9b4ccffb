"""The mail corpus (tests/mail/): every file goes through mail_to_ticket as the manifest says.

The files name tickets SH-900001 ... SH-900004 (and <sh-900001@...>); the test opens those
tickets and rewrites the numbers to the real ones before storing each message.
"""

from __future__ import annotations

import random
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db import transaction

from supporthub.customers.models import OrganisationMember, SupportContact
from supporthub.customers.services import support_contact_retire
from supporthub.intake.email.models import InboundMessage, Source
from supporthub.intake.email.outcome import MailOutcome, MailUnprocessable
from supporthub.intake.email.parsing import parse
from supporthub.intake.email.tests.mailtools import WEIRD_HEADERS, store
from supporthub.intake.email.ticketing import mail_to_ticket
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket
from supporthub.testing.world import World
from supporthub.tickets.models import Attachment, Channel, Message, Status, Ticket

CORPUS = Path(django_settings.SRC_DIR).parent.parent / "tests" / "mail"
MONDAY = datetime(2025, 11, 24, 15, 0, tzinfo=UTC)
_PLACEHOLDER = re.compile(rb"(SH-|sh-)(9000\d\d)")
KNOWN_KEYS = {
    "file",
    "disposition",
    "covers",
    "source",
    "envelope_sender",
    "ticket",
    "organisation",
    "severity",
    "subject",
    "body_contains",
    "body_excludes",
    "body_format",
    "attachments",
    "attachment_names",
    "left_out",
    "reason_contains",
    "follow_up_of",
    "not_on_ticket",
    "replies",
    "audit",
    "received_at_is_clock",
    "authserv_id",
}


def _manifest() -> list[dict[str, Any]]:
    with (CORPUS / "manifest.toml").open("rb") as fh:
        entries: list[dict[str, Any]] = tomllib.load(fh)["message"]
    return entries


def test_every_corpus_file_is_in_the_manifest_and_every_entry_has_a_file() -> None:
    files = {p.name for p in CORPUS.glob("*.eml")}
    entries = _manifest()
    named = [e["file"] for e in entries]
    assert len(named) == len(set(named)), "a file is listed twice in manifest.toml"
    assert files - set(named) == set(), "files missing from tests/mail/manifest.toml"
    assert set(named) - files == set(), "manifest.toml lists files that do not exist"
    assert len(files) >= 50
    # Two files with one Message-ID would be one message to the inbox.
    ids = [parse((CORPUS / name).read_bytes()).message_id for name in sorted(files)]
    repeated = {i for i in ids if i and ids.count(i) > 1}
    assert not repeated, f"Message-IDs used by more than one file: {repeated}"
    for entry in entries:
        assert entry["disposition"] in {"opened", "added", "ignored", "refused", "quarantined"}
        assert entry.get("covers"), f"{entry['file']}: say what it covers"
        assert set(entry) <= KNOWN_KEYS, f"{entry['file']}: unknown keys {set(entry) - KNOWN_KEYS}"


def _corpus_world(world: World) -> dict[str, Ticket]:
    """The people the corpus mail comes from and the tickets it names."""
    initech, globex = world.organisation, world.other_organisation
    carol = f.add_contact(initech, "Carol Jones", email="carol@initech.example")
    f.add_contact(initech, "Dave Smith", email="dave@initech.example")
    olga = f.add_contact(globex, "Olga Petrova", email="olga@globex.example")
    rick = f.add_contact(initech, "Rick Moranis", email="rick@initech.example")
    support_contact_retire(contact=rick)
    mia = User.objects.create_user("mia", email="mia@initech.example")
    OrganisationMember.objects.create(organisation=initech, user=mia, name="Mia Wong")
    f.add_contact(initech, "Sam Consultant", email="sam@consultancy.example")
    sam_at_globex = f.add_contact(globex, "Sam Consultant", email="sam@consultancy.example")

    def open_for(contact: SupportContact, subject: str) -> Ticket:
        return open_ticket(
            organisation=contact.organisation,
            requester=contact,
            subject=subject,
            body="Opened in the Support Hub.",
            severity=3,
            channel=Channel.HUB,
            received_at=MONDAY - timedelta(days=1),
        )

    named = {
        "900001": open_for(carol, "Search is slow"),
        "900002": open_for(olga, "Globex indexing"),
        "900003": open_for(carol, "Old license question"),
        "900004": open_for(sam_at_globex, "Consulting ticket"),
    }
    Ticket.objects.filter(pk=named["900003"].pk).update(status=Status.CLOSED)
    # Carol's first mail on SH-900001, already ticketed: replies to it thread by its id.
    first = store(
        b"From: carol@initech.example\r\nMessage-ID: <CAF8x+Q0orig-900001@mail.gmail.com>\r\n"
        b"Subject: Search is slow\r\n\r\nIt is slow.\r\n",
        received_at=MONDAY - timedelta(days=1),
    )
    first.ticket = named["900001"]
    first.save(update_fields=["ticket"])
    return named


def _substitute(raw: bytes, named: dict[str, Ticket]) -> bytes:
    def real(match: re.Match[bytes]) -> bytes:
        ticket = named.get(match[2].decode())
        if ticket is None:
            return match[0]
        if match[1] == b"SH-":
            return ticket.reference.encode()
        return f"sh-{ticket.pk}".encode()

    return _PLACEHOLDER.sub(real, raw)


def _reference(value: str, named: dict[str, Ticket]) -> str:
    ticket = named.get(value.removeprefix("SH-"))
    return ticket.reference if ticket is not None else value


def _run(
    entry: dict[str, Any], raw: bytes, at: datetime
) -> tuple[InboundMessage, MailOutcome | str]:
    mail = parse(raw)
    sender = entry.get("envelope_sender", mail.from_address or "carol@initech.example")
    inbound = store(
        raw,
        received_at=at,
        envelope_sender=sender,
        source=Source(entry.get("source", "smtp")),
    )
    try:
        with transaction.atomic():
            outcome = mail_to_ticket(inbound=inbound)
    except MailUnprocessable as exc:
        return inbound, str(exc)
    inbound.ticket_id = outcome.ticket_id
    inbound.ticket_message_id = outcome.ticket_message_id
    inbound.save(update_fields=["ticket", "ticket_message"])
    return inbound, outcome


def _check(
    entry: dict[str, Any],
    named: dict[str, Ticket],
    result: MailOutcome | str,
    at: datetime,
    before: tuple[int, int, int],
) -> list[str]:
    problems: list[str] = []
    expected = entry["disposition"]
    if isinstance(result, str):
        got, reason = "quarantined", result
    else:
        got, reason = str(result.disposition), result.reason
    if got != expected:
        return [f"disposition {got!r}, expected {expected!r} ({reason})"]
    if "reason_contains" in entry and entry["reason_contains"] not in reason:
        problems.append(f"reason {reason!r} lacks {entry['reason_contains']!r}")
    tickets_now = Ticket.objects.count()
    outbox_now = OutboxMessage.objects.count()
    if expected in ("ignored", "quarantined", "refused") and tickets_now != before[0]:
        problems.append("a ticket was created")
    if expected in ("ignored", "quarantined") and outbox_now != before[1]:
        problems.append("a mail was sent")
    if isinstance(result, str):
        return problems
    if expected == "refused":
        mail_to = parse((CORPUS / entry["file"]).read_bytes()).from_address
        sent = OutboxMessage.objects.filter(kind=OutboxKind.MAIL_AUTO_REPLY, recipient=mail_to)
        if sent.count() != entry.get("replies", 1):
            problems.append(f"{sent.count()} replies to {mail_to}")
        return problems
    if expected not in ("opened", "added") or result.ticket_id is None:
        return problems + ([] if expected not in ("opened", "added") else ["no ticket"])
    ticket = Ticket.objects.select_related("organisation").get(pk=result.ticket_id)
    message = (
        Message.objects.get(pk=result.ticket_message_id)
        if result.ticket_message_id is not None
        else None
    )
    if expected == "added":
        if message is None:
            problems.append("no ticket message")
        if "ticket" in entry and ticket.reference != _reference(entry["ticket"], named):
            problems.append(f"added to {ticket.reference}, expected {entry['ticket']}")
    else:
        if ticket.pk in {t.pk for t in named.values()}:
            problems.append(f"opened onto the existing {ticket.reference}")
        if ticket.severity != entry.get("severity", 3):
            problems.append(f"severity {ticket.severity}")
        if ticket.received_at != at:
            problems.append(f"received_at {ticket.received_at}, expected the receipt {at}")
        if ticket.channel != Channel.EMAIL:
            problems.append(f"channel {ticket.channel}")
    body = message.body if message is not None else ticket.body
    body_format = message.body_format if message is not None else ticket.body_format
    if "body_contains" in entry and entry["body_contains"] not in body:
        problems.append(f"body lacks {entry['body_contains']!r}: {body[:300]!r}")
    if "body_excludes" in entry and entry["body_excludes"] in body:
        problems.append(f"body still holds {entry['body_excludes']!r}: {body[:300]!r}")
    if body_format != entry.get("body_format", "text"):
        problems.append(f"body format {body_format}")
    if "subject" in entry and ticket.subject != entry["subject"]:
        problems.append(f"subject {ticket.subject!r}")
    if len(ticket.subject) > 300:
        problems.append("subject longer than 300")
    if "organisation" in entry and ticket.organisation.name != entry["organisation"]:
        problems.append(f"organisation {ticket.organisation.name}")
    files = Attachment.objects.filter(ticket=ticket)
    files = files.filter(message=message) if message is not None else files
    if "attachments" in entry and files.count() != entry["attachments"]:
        problems.append(f"{files.count()} attachments, expected {entry['attachments']}")
    if "attachment_names" in entry:
        names = sorted(files.values_list("filename", flat=True))
        if names != sorted(entry["attachment_names"]):
            problems.append(f"attachment names {names}")
    left = ticket.audit.filter(code="mail.attachments_left_out", data__inbound__isnull=False)
    left_out = sum(len(e.data["files"]) for e in left)
    if left_out != entry.get("left_out", 0):
        problems.append(f"{left_out} attachments left out, expected {entry.get('left_out', 0)}")
    if "follow_up_of" in entry:
        old = _reference(entry["follow_up_of"], named)
        if not ticket.audit.filter(code="mail.follow_up_of_closed", data__reference=old).exists():
            problems.append(f"no follow-up audit naming {old}")
    if "not_on_ticket" in entry:
        other = named[entry["not_on_ticket"].removeprefix("SH-")]
        if ticket.pk == other.pk or Message.objects.filter(ticket=other).count() != before[2]:
            problems.append(f"attached to {other.reference}")
    if "audit" in entry and not ticket.audit.filter(code=entry["audit"]).exists():
        problems.append(f"no {entry['audit']} audit entry")
    return problems


@pytest.mark.django_db
def test_every_corpus_message_gets_its_expected_disposition(world: World, settings: Any) -> None:
    settings.ATTACHMENT_MAX_BYTES = 20_000
    settings.ATTACHMENTS_PER_MESSAGE = 5
    settings.REPLY_DOMAIN = "supporthub.example"
    settings.SUPPORT_FROM_EMAIL = "Support Hub <support@supporthub.example>"
    named = _corpus_world(world)
    failures: list[str] = []
    for i, entry in enumerate(_manifest()):
        raw = _substitute((CORPUS / entry["file"]).read_bytes(), named)
        at = MONDAY + timedelta(minutes=i)
        other = named.get(str(entry.get("not_on_ticket", "")).removeprefix("SH-"))
        settings.INBOUND_MAIL_AUTHSERV_ID = entry.get("authserv_id", "")
        before = (
            Ticket.objects.count(),
            OutboxMessage.objects.count(),
            Message.objects.filter(ticket=other).count() if other is not None else 0,
        )
        _, result = _run(entry, raw, at)
        for problem in _check(entry, named, result, at, before):
            failures.append(f"{entry['file']}: {problem}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_damaged_corpus_mail_is_processed_or_quarantined_never_crashes(
    world: World, settings: Any
) -> None:
    """Byte flips and odd headers: the only failure mail_to_ticket may raise is
    MailUnprocessable (the inbox quarantines it); anything else would stop the worker."""
    settings.REPLY_DOMAIN = "supporthub.example"
    named = _corpus_world(world)
    chance = random.Random(20251124)  # noqa: S311 - a fixed seed: the same damage every run
    files = sorted(CORPUS.glob("*.eml"))
    failures: list[str] = []
    for i in range(80):
        path = chance.choice(files)
        raw = bytearray(_substitute(path.read_bytes(), named))
        for _ in range(chance.randint(0, 4)):
            raw[chance.randrange(len(raw))] = chance.randrange(256)
        lines = bytes(raw).split(b"\r\n")
        for _ in range(chance.randint(0, 2)):
            lines.insert(chance.randrange(min(len(lines), 30)), chance.choice(WEIRD_HEADERS))
        damaged = b"\r\n".join(lines)
        inbound = store(damaged, received_at=MONDAY + timedelta(seconds=i), dedupe_key=f"case:{i}")
        try:
            with transaction.atomic():
                mail_to_ticket(inbound=inbound)
        except MailUnprocessable:
            pass
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            failures.append(f"case {i} ({path.name}): {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)
