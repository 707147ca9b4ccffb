"""Storing raw mail: byte for byte, once per message, committed before the source is told."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError

from supporthub.intake.email import services
from supporthub.intake.email.models import InboundMessage, InboundState, Source
from supporthub.intake.email.parsing import parse
from supporthub.intake.email.services import identify, inbox_store
from supporthub.intake.email.tests.fakes import message

pytestmark = pytest.mark.django_db


def test_a_message_is_stored_byte_for_byte_with_its_identity() -> None:
    raw = message(1) + b"\xff\xfe not utf-8 at all\r\n"
    at = datetime(2025, 11, 24, 15, 0, 7, tzinfo=UTC)

    stored = inbox_store(
        raw=raw,
        source=Source.SMTP,
        mailbox="smtp://127.0.0.1:2525",
        received_at=at,
        envelope_sender="bounce@initech.example",
        envelope_recipients=["support@supporthub.example"],
    )

    assert stored.created
    row = InboundMessage.objects.get()
    assert bytes(row.raw) == raw
    assert row.sha256 == hashlib.sha256(raw).hexdigest()
    assert row.message_id == "<inbox-test-1@initech.example>"
    assert row.dedupe_key.startswith("mid:") and len(row.dedupe_key) == 4 + 64
    assert row.state == InboundState.STORED
    assert row.received_at == at
    assert row.envelope_sender == "bounce@initech.example"
    assert row.envelope_recipients == ["support@supporthub.example"]
    assert row.sender == "Carol <carol@initech.example>"
    assert row.subject == "Export broken (1)"


def test_the_same_message_id_twice_is_stored_once_even_with_other_bytes() -> None:
    first = inbox_store(raw=message(1), source=Source.SMTP, mailbox="smtp://a")
    again = inbox_store(
        raw=message(1, headers="Received: from relay2"), source=Source.IMAP, mailbox="imap://b"
    )

    assert first.created and not again.created
    assert again.message.pk == first.message.pk
    assert InboundMessage.objects.count() == 1


def test_a_client_reusing_a_message_id_for_another_message_loses_neither() -> None:
    first = inbox_store(raw=message(1), source=Source.SMTP, mailbox="smtp://a")
    other_sender = inbox_store(
        raw=message(1, sender="dev@initech.example"), source=Source.SMTP, mailbox="smtp://a"
    )
    later = message(1).replace(b"15:00:00", b"15:07:00")  # the Date header
    assert later != message(1)
    other_date = inbox_store(raw=later, source=Source.SMTP, mailbox="smtp://a")

    assert first.created and other_sender.created and other_date.created
    assert InboundMessage.objects.count() == 3


def test_without_a_message_id_copies_are_recognised_by_their_bytes() -> None:
    raw = message(2, message_id=None)
    first = inbox_store(raw=raw, source=Source.SMTP, mailbox="smtp://a")
    again = inbox_store(raw=raw, source=Source.SMTP, mailbox="smtp://a")
    other = inbox_store(raw=message(3, message_id=None), source=Source.SMTP, mailbox="smtp://a")

    assert first.created and not again.created and other.created
    assert first.message.message_id == ""
    assert first.message.dedupe_key == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert InboundMessage.objects.count() == 2


def test_an_imap_uid_already_stored_is_not_stored_again() -> None:
    kwargs = {"source": Source.IMAP, "mailbox": "imap://s@h:993/INBOX"}
    first = inbox_store(raw=message(4), imap_uidvalidity=7, imap_uid=1, **kwargs)  # type: ignore[arg-type]
    # The same UID under the same UIDVALIDITY is the same message, whatever its bytes now.
    again = inbox_store(raw=message(5), imap_uidvalidity=7, imap_uid=1, **kwargs)  # type: ignore[arg-type]
    renumbered = inbox_store(raw=message(6), imap_uidvalidity=8, imap_uid=1, **kwargs)  # type: ignore[arg-type]

    assert first.created and not again.created and renumbered.created
    assert again.message.pk == first.message.pk


def test_a_copy_is_refused_by_the_unique_key_then_the_stored_row_is_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Also what happens when another listener stored it a moment before: no look first.
    winner = inbox_store(raw=message(7), source=Source.SMTP, mailbox="smtp://a")
    looked: list[int] = []
    real = services._existing

    def counted(*args: object, **kwargs: object) -> InboundMessage | None:
        looked.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "_existing", counted)
    fresh = inbox_store(raw=message(70), source=Source.SMTP, mailbox="smtp://a")
    assert fresh.created
    assert looked == []  # a message that is not a copy costs no look-up
    again = inbox_store(raw=message(7), source=Source.SMTP, mailbox="smtp://b")

    assert not again.created
    assert again.message.pk == winner.message.pk
    assert looked == [1]
    assert InboundMessage.objects.count() == 2


def test_a_collision_that_is_not_a_copy_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise IntegrityError("something else entirely")

    monkeypatch.setattr(InboundMessage, "save", fail)
    with pytest.raises(IntegrityError):
        inbox_store(raw=message(8), source=Source.SMTP, mailbox="smtp://a")


@pytest.mark.parametrize(
    ("raw", "subject"),
    [
        (b"Subject: =?x-unknown-charset?q?caf=E9?=\r\nFrom: a@b\r\n\r\nbody", "=?x-unknown"),
        (b"Subject: caf\xe9 \x00 latin-1\r\nFrom: a@b\r\n\r\nbody", "caf"),
        (b"\x00\x01\x02 not a mail at all", ""),
        (b"From: a@b\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n", ""),
    ],
)
def test_broken_headers_never_stop_storing(raw: bytes, subject: str) -> None:
    stored = inbox_store(raw=raw, source=Source.SMTP, mailbox="smtp://a")

    row = InboundMessage.objects.get(pk=stored.message.pk)
    assert bytes(row.raw) == raw
    assert row.subject.startswith(subject)
    assert "\x00" not in row.subject
    assert row.dedupe_key == "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize(
    ("raw", "dedupe_key"),
    [
        # ASCII headers: the keys stored since the inbox began; they must never change (a copy
        # delivered again after an upgrade would be stored twice).
        (
            message(7, subject="ascii only"),
            "mid:5c761b3421eccefb77670b2e94933b8d38ecc2fbf63d634a25e526cba68bacff",
        ),
        (
            b"From: Ann <ann@initech.example>\r\nDate: Mon, 24 Nov 2025 15:00:00 +0000\r\n"
            b"Message-ID:\r\n <folded-ascii@initech.example>\r\nSubject: x\r\n\r\nbody\r\n",
            "mid:cba6ca2145e9e031db0eb1de14a154d0e12ce02788c3eab4e4695a85c25736c7",
        ),
    ],
)
def test_the_key_of_an_ascii_message_never_changes(raw: bytes, dedupe_key: str) -> None:
    assert identify(raw).dedupe_key == dedupe_key


def test_message_ids_that_differ_only_in_8bit_characters_are_two_messages() -> None:
    first = (
        b"From: orders@shop.example\r\nDate: Mon, 24 Nov 2025 15:00:00 +0000\r\n"
        b"Message-ID: <bestellung-\xc3\xa4@shop.example>\r\nSubject: order A\r\n\r\nA\r\n"
    )
    second = first.replace(b"\xc3\xa4", b"\xc3\xb6").replace(b"order A", b"order B")

    a = inbox_store(raw=first, source=Source.SMTP, mailbox="smtp://a")
    b = inbox_store(raw=second, source=Source.SMTP, mailbox="smtp://a")

    assert a.created and b.created
    assert a.message.message_id == "<bestellung-ä@shop.example>" == parse(first).message_id
    assert b.message.message_id == "<bestellung-ö@shop.example>"


def test_a_message_id_too_long_for_an_index_is_stored_cut() -> None:
    # 990 three-byte characters, scattered so that they do not compress: 2,970 bytes, over
    # PostgreSQL's B-tree entry limit (2,704).
    long_id = "<" + "".join(chr(0x4E00 + i * 7919 % 20000) for i in range(990)) + "@x.example>"
    raw = message(8, message_id=long_id)

    stored = inbox_store(raw=raw, source=Source.SMTP, mailbox="smtp://a")

    row = InboundMessage.objects.get(pk=stored.message.pk)
    assert stored.created and bytes(row.raw) == raw
    assert len(row.message_id.encode()) <= services.MESSAGE_ID_MAX_BYTES
    assert long_id.startswith(row.message_id)
    assert row.dedupe_key == identify(raw).dedupe_key  # from the whole header, as written


def test_a_folded_message_id_is_read_whole() -> None:
    identity = identify(b"Message-ID:\r\n <folded@initech.example>\r\n\r\nbody")
    assert identity.message_id == "<folded@initech.example>"


def test_bad_arguments_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="raw"):
        inbox_store(raw=b"", source=Source.SMTP, mailbox="smtp://a")
    with pytest.raises(ValueError, match="imap_uidvalidity"):
        inbox_store(raw=message(9), source=Source.IMAP, mailbox="imap://a", imap_uid=3)


def _raw_8bit(charset: str, name: bytes) -> bytes:
    """Sender and subject as raw 8-bit bytes in `charset` (no RFC 2047), as some clients send."""
    return (
        b"From: " + "Jürgen".encode(charset) + b" <jurgen@initech.example>\r\n"
        b"To: support@supporthub.example\r\n"
        b"Subject: " + "Problème d'export".encode(charset) + b"\r\n"
        b"Date: Mon, 24 Nov 2025 15:00:00 +0000\r\n"
        b"Message-ID: <raw-" + name + b"@initech.example>\r\n\r\nThe export stopped.\r\n"
    )


@pytest.mark.parametrize(
    ("charset", "name", "dedupe_key"),
    [
        # The key hashes the Message-ID, From and Date bytes as written (8-bit bytes kept;
        # until 2026-11-30 they were hashed as U+FFFD, and different messages could collide).
        ("utf-8", b"utf8", "mid:ae4f98afa8e861a0779534004ca8c93682cacc2d9b1678427ca0fc20ecb111b9"),
        (
            "latin-1",
            b"latin1",
            "mid:82067be70b52ab2e8ffd5172a86e335fe9b95ae71db8ed855eb8f58371efd369",
        ),
    ],
)
def test_raw_8bit_sender_and_subject_are_stored_as_the_ticket_will_read_them(
    charset: str, name: bytes, dedupe_key: str
) -> None:
    raw = _raw_8bit(charset, name)
    mail = parse(raw)

    stored = inbox_store(raw=raw, source=Source.SMTP, mailbox="smtp://a")

    row = InboundMessage.objects.get(pk=stored.message.pk)
    assert mail.subject == "Problème d'export"
    assert identify(raw).subject == row.subject == mail.subject
    assert identify(raw).sender == row.sender == f"{mail.from_name} <{mail.from_address}>"
    assert row.sender == "Jürgen <jurgen@initech.example>"
    assert row.dedupe_key == identify(raw).dedupe_key == dedupe_key


@pytest.mark.parametrize(
    "raw",
    [
        message(1, subject="=?ISO-8859-1?Q?Probl=E8me?= de\r\n serveur"),
        message(2, subject="=?x-unknown-charset?q?caf=E9?= ok"),
        b"Subject: =?ISO-8859-\xf3?Q?Probl=E8me?=\r\nFrom: a@b\r\n\r\nbody",
        b"Subject: mixed =?utf-8?q?caf=C3=A9?= caf\xc3\xa9 \xe9t\xe9\r\n\r\nbody",
        b"Subject: a\x00b\r\n\r\nbody",
    ],
)
def test_identify_reads_the_subject_parse_reads(raw: bytes) -> None:
    assert identify(raw).subject == parse(raw).subject
