"""What real mailers write (issue 16 item 8): vendor charsets, ISO-2022-JP without a label,
loosely written transfer encodings, HTML beside text in multipart/mixed, raw 8-bit subjects in
the declared charset, and a multipart whose boundary never appears. The messages are in
tests/mail/ (the corpus runs them too); these tests look closer at each point."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import transaction

from supporthub.intake.email.charsets import codec_for, decode_text
from supporthub.intake.email.models import InboundMessage
from supporthub.intake.email.outcome import Disposition, MailOutcome
from supporthub.intake.email.parsing import AS_RECEIVED, first_header, parse
from supporthub.intake.email.services import identify
from supporthub.intake.email.tests.mailtools import as_message, store
from supporthub.intake.email.ticketing import mail_to_ticket
from supporthub.testing import factories as f
from supporthub.testing.world import World
from supporthub.tickets.models import Attachment, BodyFormat, Message, Ticket
from supporthub.tickets.rendering import render_body

CORPUS = Path(django_settings.SRC_DIR).parent.parent / "tests" / "mail"
MONDAY = datetime(2025, 11, 24, 15, 0, tzinfo=UTC)


def _corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def _mail(head: str, body: bytes) -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


def _run(raw: bytes) -> tuple[InboundMessage, MailOutcome]:
    inbound = store(raw, received_at=MONDAY)
    with transaction.atomic():
        return inbound, mail_to_ticket(inbound=inbound)


def _ticket(outcome: MailOutcome) -> Ticket:
    assert outcome.ticket_id is not None, outcome.reason
    return Ticket.objects.get(pk=outcome.ticket_id)


# --- charsets ------------------------------------------------------------------------------


def test_iso_2022_jp_without_a_declared_charset_is_read_from_its_escape_sequences() -> None:
    mail = parse(_corpus("iso-2022-jp-no-charset.eml"))
    assert "検索の応答が遅くなっています。" in mail.text
    assert "\x1b" not in mail.text
    # us-ascii, the default a 7-bit mailer may write, is no reason to show the escapes either.
    assert decode_text("日本語".encode("iso2022_jp"), "us-ascii") == ("日本語", "")
    # Text without them is left alone.
    assert decode_text(b"plain $B text", None) == ("plain $B text", "")


def test_iso_2022_jp_keeps_microsofts_extension_characters() -> None:
    mail = parse(_corpus("iso-2022-jp-windows-extensions.eml"))
    assert "①サービスを停止\n②索引を再構築\nⅢ番目のノードで失敗します。" in mail.text
    assert mail.text.startswith("髙橋です。")  # row 92, NEC's selection of IBM's kanji
    assert mail.subject == "①索引の再構築が失敗"  # an encoded word in the same charset
    assert "\ufffd" not in mail.text + mail.subject
    # Standard ISO-2022-JP, half-width katakana and JIS X 0212 read as Python reads them.
    standard = "ｶﾀｶﾅ 日本語 〜".encode("iso2022_jp_ext")
    assert decode_text(standard, "ISO-2022-JP") == ("ｶﾀｶﾅ 日本語 〜", "")


def test_shift_jis_is_read_as_cp932_with_its_extension_characters() -> None:
    mail = parse(_corpus("shift-jis-windows-extensions.eml"))
    assert "㈱イニテックの髙橋です。\n①停止 ②再起動 ③確認" in mail.text
    assert mail.subject == "㈱イニテック 障害報告"
    for label in ("Shift_JIS", "shift-jis", "sjis", "x-sjis", "windows-31j", "MS_Kanji"):
        assert codec_for(label) == "cp932", label


def test_gb2312_and_gbk_labels_are_read_as_gb18030() -> None:
    mail = parse(_corpus("gb2312-label-gbk-characters.eml"))
    assert "我是朱镕基团队的陶喆，搜索服务很慢。" in mail.text
    assert "\ufffd" not in mail.text
    for label in ("gb2312", "GB2312", "gbk", "x-gbk", "cp936", "euc-cn"):
        assert codec_for(label) == "gb18030", label
    assert decode_text("镕".encode("gb18030"), "gbk") == ("镕", "")
    assert codec_for("ks_c_5601-1987") == "cp949"
    assert codec_for("utf-8") == "utf-8" and codec_for("x-klingon") == "x-klingon"


# --- transfer encodings ----------------------------------------------------------------------


def test_a_base64_part_with_a_loosely_written_transfer_encoding_is_decoded() -> None:
    mail = parse(_corpus("base64-transfer-encoding-trailing-space.eml"))
    assert mail.text == "The nightly export fails with “disk full” since Friday."
    log = base64.encodebytes(b"ERROR disk full\n").decode()
    for written in ("BASE64 ", "base64 (as sent)", "base64;"):
        raw = _mail(
            "From: a@x.example\nContent-Type: multipart/mixed; boundary=b\n",
            (
                "--b\r\nContent-Type: text/plain\r\n\r\nSee the log.\r\n--b\r\n"
                "Content-Type: text/plain; name=app.log\r\n"
                "Content-Disposition: attachment; filename=app.log\r\n"
                f"Content-Transfer-Encoding: {written}\r\n\r\n{log}\r\n--b--\r\n"
            ).encode(),
        )
        (file,) = parse(raw).files
        assert file.content == b"ERROR disk full\n", written


# --- HTML beside text ----------------------------------------------------------------------


def test_html_beside_text_in_multipart_mixed_is_read_as_content_in_order() -> None:
    mail = parse(_corpus("multipart-mixed-text-and-html-parts.eml"))
    assert [kind for kind, _ in mail.sections] == ["text", "html"]
    assert mail.sections[0][1] == "Hello, our monitoring report is below."
    assert "<td><b>412</b></td>" in mail.sections[1][1]


def test_an_alternative_or_an_apple_mail_html_part_is_no_second_section() -> None:
    alternative = (
        "--a\r\nContent-Type: text/plain\r\n\r\nSame words.\r\n"
        "--a\r\nContent-Type: text/html\r\n\r\n<p>Same words.</p>\r\n--a--\r\n"
    )
    # Apple Mail: the HTML alternative is itself multipart/mixed, around an inline image.
    apple = (
        "--a\r\nContent-Type: text/plain\r\n\r\nLook: [image] done.\r\n"
        '--a\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n'
        "--m\r\nContent-Type: text/html\r\n\r\n<p>Look:</p>\r\n"
        "--m\r\nContent-Type: image/png\r\nContent-Disposition: inline; filename=a.png\r\n\r\n"
        "x\r\n--m\r\nContent-Type: text/html\r\n\r\n<p>done.</p>\r\n--m--\r\n--a--\r\n"
    )
    for body in (alternative, apple):
        raw = _mail('From: a@x.example\nContent-Type: multipart/alternative; boundary="a"\n', b"")
        mail = parse(raw + body.encode())
        assert mail.sections == ()
        assert mail.text.startswith(("Same words.", "Look:"))


@pytest.mark.django_db
def test_a_ticket_shows_the_text_and_the_html_part_beside_it(world: World) -> None:
    f.add_contact(world.organisation, "Carol Jones", email="carol@initech.example")

    _, outcome = _run(_corpus("multipart-mixed-text-and-html-parts.eml"))

    ticket = _ticket(outcome)
    assert ticket.body_format == BodyFormat.HTML
    shown = str(render_body(ticket.body, ticket.body_format))
    assert shown.index("our monitoring report is below") < shown.index("<td>search-3</td>")
    assert "<script>" not in shown and "alert(1)" not in shown


@pytest.mark.django_db
def test_a_reply_with_html_beside_its_text_keeps_both_without_the_quoted_history(
    world: World,
) -> None:
    carol = f.add_contact(world.organisation, "Carol Jones", email="carol@initech.example")
    _, opened = _run(_corpus("iso-2022-jp-no-charset.eml"))
    ticket = _ticket(opened)
    raw = _mail(
        f"From: {carol.email}\nSubject: Re: [{ticket.reference}] Search is slow\n"
        "Message-ID: <mixed-reply@initech.example>\n"
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="r"\n',
        b"--r\r\nContent-Type: text/plain\r\n\r\nThe report is attached below.\r\n\r\n"
        b"On Mon, 24 Nov 2025, Support wrote:\r\n> We have received your request.\r\n"
        b"--r\r\nContent-Type: text/html\r\n\r\n<p>Errors: <b>3</b></p>\r\n--r--\r\n",
    )

    _, added = _run(raw)

    assert added.disposition == Disposition.ADDED
    message = Message.objects.get(pk=added.ticket_message_id or 0)
    assert message.body_format == BodyFormat.HTML
    assert "The report is attached below." in message.body
    assert "<b>3</b>" in message.body
    assert "We have received" not in message.body


# --- raw 8-bit subjects --------------------------------------------------------------------


def test_a_raw_8bit_subject_is_read_in_the_messages_declared_charset() -> None:
    raw = _corpus("raw-8bit-shift-jis-subject.eml")
    assert parse(raw).subject == "検索エラー"
    # The inbox list reads the same (from the headers alone).
    assert identify(raw).subject == "検索エラー"
    assert first_header(as_message(raw), "Subject") == "検索エラー"
    # A multipart message declares its charset on its text part.
    multipart = (
        b"From: a@x.example\r\nSubject: "
        + "Поиск".encode("koi8-r")
        + b'\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain; charset=koi8-r\r\n\r\n"
        + "Привет".encode("koi8-r")
        + b"\r\n--b--\r\n"
    )
    assert parse(multipart).subject == "Поиск"
    # UTF-8 still comes first, and without a declared charset Windows-1252 is the fallback.
    assert parse(b"Subject: R\xc3\xa9sum\xc3\xa9\r\n\r\nx").subject == "Résumé"
    assert parse(b"Subject: Gr\xf6\xdfe\r\n\r\nx").subject == "Größe"


# --- a boundary that never appears ---------------------------------------------------------


@pytest.mark.django_db
def test_a_contacts_mail_whose_boundary_never_appears_opens_a_ticket_with_the_raw_mail(
    world: World,
) -> None:
    f.add_contact(world.organisation, "Carol Jones", email="carol@initech.example")
    raw = _corpus("multipart-boundary-never-found.eml")

    inbound, outcome = _run(raw)

    assert outcome.disposition == Disposition.OPENED
    assert "Malformed MIME" in outcome.reason and "StartBoundaryNotFoundDefect" in outcome.reason
    ticket = _ticket(outcome)
    assert "The declared boundary never appears in the body." in ticket.body
    attached = Attachment.objects.get(ticket=ticket)
    assert attached.filename == AS_RECEIVED
    with attached.file.open("rb") as fh:
        assert fh.read() == raw
    notes = ticket.audit.get(code="mail.received").data["notes"]
    assert any("StartBoundaryNotFoundDefect" in note for note in notes)
    assert bytes(InboundMessage.objects.get(pk=inbound.pk).raw) == raw


@pytest.mark.django_db
def test_mail_whose_boundary_never_appears_from_anyone_else_is_refused_as_any_mail(
    world: World,
) -> None:
    raw = _corpus("multipart-boundary-never-found.eml").replace(
        b"carol@initech.example", b"stranger@elsewhere.example"
    )

    _, outcome = _run(raw)

    assert outcome.disposition == Disposition.REFUSED
    assert not Ticket.objects.exists()
