"""Reading stored mail: charsets, headers, MIME walking, machine mail and quoted history."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supporthub.intake.email.charsets import clean, decode_text
from supporthub.intake.email.parsing import (
    ParsedMail,
    automatic_reason,
    first_header,
    parse,
    strip_quoted_html,
    strip_quoted_text,
)
from supporthub.intake.email.tests.mailtools import WEIRD_HEADERS, as_message

CORPUS = Path(django_settings.SRC_DIR).parent.parent / "tests" / "mail"


def _mail(head: str, body: bytes = b"Hello.\r\n") -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


# --- charsets and headers ------------------------------------------------------------------


def test_text_is_decoded_in_its_declared_charset() -> None:
    assert decode_text("Привет".encode("koi8-r"), "KOI8-R") == ("Привет", "")
    assert decode_text("日本語".encode("shift_jis"), '"Shift_JIS"') == ("日本語", "")
    assert decode_text("€".encode("cp1252"), "windows-1252") == ("€", "")


def test_an_unknown_charset_falls_back_to_utf8_then_windows_1252_and_says_so() -> None:
    text, note = decode_text("naïve".encode(), "x-klingon")
    assert text == "naïve"
    assert note == "Unknown charset 'x-klingon': read as UTF-8."
    text, note = decode_text("café".encode("latin-1"), "unknown-8bit")
    assert text == "café"
    assert "Windows-1252" in note
    # "base64" is a Python codec but not a text encoding.
    assert decode_text(b"plain", "base64") == ("plain", "Unknown charset 'base64': read as UTF-8.")


def test_8bit_text_without_a_charset_is_read_without_a_note() -> None:
    assert decode_text("é".encode(), None) == ("é", "")
    assert decode_text(b"\xe9t\xe9", None) == ("été", "")


def test_clean_removes_nul_and_re_decodes_lone_surrogates() -> None:
    assert clean("a\x00b") == "ab"
    raw = "Größe".encode().decode("ascii", "surrogateescape")
    assert clean(raw) == "Größe"
    raw = "Größe".encode("latin-1").decode("ascii", "surrogateescape")
    assert clean(raw) == "Größe"


def test_raw_8bit_headers_are_read_as_utf8_or_windows_1252() -> None:
    msg = as_message(b"Subject: R\xc3\xa9sum\xc3\xa9\r\nX-Other: Gr\xf6\xdfe\r\n\r\nx")
    assert first_header(msg, "Subject") == "Résumé"
    assert first_header(msg, "X-Other") == "Größe"
    assert first_header(msg, "X-Missing") == ""


def test_encoded_words_and_folding_are_undone() -> None:
    msg = as_message(b"Subject: =?ISO-8859-1?Q?Probl=E8me?=\r\n  de\r\n\tserveur\r\n\r\nx")
    assert first_header(msg, "Subject") == "Problème de serveur"


def test_from_addresses_are_lower_cased_addr_specs_only() -> None:
    mail = parse(_mail('From: "carol@initech.example" <Attacker@Unknown.Example>\n'))
    assert mail.from_addresses == ("attacker@unknown.example",)
    assert mail.from_name == "carol@initech.example"
    assert parse(_mail("From: undisclosed-recipients:;\n")).from_addresses == ()
    assert parse(_mail("From: not an address\n")).from_addresses == ()
    two = parse(_mail("From: a@x.example, b@y.example\n"))
    assert two.from_addresses == ("a@x.example", "b@y.example")
    assert two.from_address == ""


def test_message_ids_are_read_from_in_reply_to_and_references() -> None:
    mail = parse(
        _mail(
            "From: a@x.example\nMessage-ID:  <m3@x>  \nIn-Reply-To: <m2@x> (comment)\n"
            "References: <m1@x>\n <m2@x>\n"
        )
    )
    assert mail.message_id == "<m3@x>"
    assert mail.in_reply_to == ("<m2@x>",)
    assert mail.references == ("<m1@x>", "<m2@x>")


# --- machine mail --------------------------------------------------------------------------


def test_machine_mail_is_recognised_by_its_headers_and_reports() -> None:
    def reason(head: str) -> str:
        return automatic_reason(as_message(_mail("From: a@x.example\n" + head)))

    assert reason("Auto-Submitted: auto-replied\n") == "Auto-Submitted: auto-replied"
    assert reason("Auto-Submitted: auto-generated; owner-email=a@x\n").startswith("Auto-Sub")
    assert reason("Auto-Submitted: no\n") == ""
    assert reason("X-Auto-Response-Suppress: OOF\n") == "X-Auto-Response-Suppress: OOF"
    assert reason("X-Auto-Response-Suppress: None\n") == ""
    for value in ("bulk", "list", "junk", "BULK"):
        assert reason(f"Precedence: {value}\n") == f"Precedence: {value.lower()}"
    assert reason("Precedence: first-class\n") == ""
    assert reason("Return-Path: <>\n") == "Null return path (bounce)"
    report = 'Content-Type: multipart/report; report-type="delivery-status"; boundary=b\n'
    assert reason(report) == "Delivery status report (bounce)"
    mdn = "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\n"
    assert reason(mdn).startswith("Read receipt")
    daemon = automatic_reason(as_message(_mail("From: MAILER-DAEMON@mx.example\n")))
    assert daemon == "Sent by mailer-daemon@mx.example (a mail server)"
    assert reason("Subject: Out of office\n") == ""  # a subject alone proves nothing


# --- MIME ----------------------------------------------------------------------------------


def _multipart(parts: list[str], kind: str = "mixed") -> bytes:
    body = "".join(f"--b\r\n{p}\r\n" for p in parts) + "--b--\r\n"
    head = f"From: a@x.example\nMIME-Version: 1.0\nContent-Type: multipart/{kind}; boundary=b\n"
    return _mail(head, body.encode())


def test_alternative_mail_gives_its_text_and_its_html() -> None:
    mail = parse(
        _multipart(
            [
                "Content-Type: text/plain; charset=utf-8\r\n\r\nplain\r\nline",
                "Content-Type: text/html\r\n\r\n<p>html</p>",
            ],
            kind="alternative",
        )
    )
    assert mail.text == "plain\nline"
    assert mail.html == "<p>html</p>"
    assert mail.files == ()


def test_text_split_around_an_inline_image_is_joined_and_the_image_kept() -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    mail = parse(
        _multipart(
            [
                "Content-Type: text/plain\r\n\r\nbefore",
                f"Content-Type: image/png\r\nContent-Disposition: inline\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{png}",
                "Content-Type: text/plain\r\n\r\nafter",
            ]
        )
    )
    assert mail.text == "before\n\nafter"
    [image] = mail.files
    assert image.filename == "attachment-1.png"
    assert image.content == b"\x89PNG fake"


def test_attached_text_and_forwarded_messages_are_files_not_body() -> None:
    mail = parse(
        _multipart(
            [
                "Content-Type: text/plain\r\n\r\nbody",
                'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="a.log"'
                "\r\n\r\nlog line",
                "Content-Type: message/rfc822\r\n\r\nFrom: b@y.example\r\nSubject: inner\r\n\r\n"
                "inner body",
            ]
        )
    )
    assert mail.text == "body"
    assert [(f.filename, f.content_type) for f in mail.files] == [
        ("a.log", "text/plain"),
        ("message-2.eml", "message/rfc822"),
    ]
    assert mail.files[1].content.startswith(b"From: b@y.example\r\nSubject: inner\r\n")
    assert b"inner body" in mail.files[1].content
    assert mail.files[0].content.rstrip() == b"log line"


def test_file_names_cannot_name_a_path() -> None:
    mail = parse(
        _multipart(
            [
                "Content-Type: text/plain\r\n\r\nbody",
                "Content-Type: application/pdf\r\nContent-Disposition: attachment; "
                'filename="../../etc/passwd"\r\n\r\nx',
            ]
        )
    )
    assert "/" not in mail.files[0].filename


def test_nul_bytes_never_reach_the_body() -> None:
    mail = parse(_mail("From: a@x.example\nContent-Type: text/plain\n", b"a\x00b\r\n"))
    assert mail.text == "ab"


def test_an_unreadable_multipart_structure_is_reported_not_raised() -> None:
    mail = parse(_mail("From: a@x.example\nContent-Type: multipart/mixed\n", b"no boundary"))
    assert mail.structure_problem.startswith("Malformed MIME: multipart/mixed part")
    mail = parse(
        _mail('From: a@x.example\nContent-Type: multipart/mixed; boundary="b"\n', b"--c\r\nx")
    )
    assert "StartBoundaryNotFoundDefect" in mail.structure_problem


@pytest.mark.parametrize("line", WEIRD_HEADERS)
def test_odd_header_lines_never_make_parsing_raise(line: bytes) -> None:
    raw = (CORPUS / "gmail-new-ticket.eml").read_bytes()
    assert _all_strings_clean(parse(line + b"\r\n" + raw))
    assert _all_strings_clean(parse(raw.replace(b"\r\n\r\n", b"\r\n" + line + b"\r\n\r\n", 1)))


def _all_strings_clean(mail: ParsedMail) -> bool:
    strings = [mail.message_id, mail.from_name, mail.subject, mail.text, mail.html]
    strings += list(mail.from_addresses) + list(mail.recipients) + list(mail.notes)
    strings += [f.filename for f in mail.files] + list(mail.headers.values())
    for value in strings:
        if "\x00" in value:
            return False
        value.encode("utf-8")  # raises on a lone surrogate
    return True


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_parse_without_raising_into_clean_unicode(raw: bytes) -> None:
    assert _all_strings_clean(parse(raw))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(p.name for p in CORPUS.glob("*.eml"))),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=20),
)
def test_damaged_corpus_mail_parses_without_raising(
    name: str, flips: list[tuple[float, int]]
) -> None:
    raw = bytearray((CORPUS / name).read_bytes())
    for where, value in flips:
        raw[min(int(where * len(raw)), len(raw) - 1)] = value
    assert _all_strings_clean(parse(bytes(raw)))


# --- quoted history ------------------------------------------------------------------------


def test_gmail_and_thunderbird_attributions_start_the_history() -> None:
    text = "New text.\n\nOn Mon, 24 Nov 2025 at 10:05, Support <s@x.example> wrote:\n> old\n"
    assert strip_quoted_text(text) == "New text."
    wrapped = "New.\n\nOn Mon, 24 Nov 2025 at 10:05, A Long Name <support@x.example>\nwrote:\n> old"
    assert strip_quoted_text(wrapped) == "New."
    french = "Merci.\n\nLe lun. 24 nov. 2025 à 10:05, Support <s@x.example> a écrit :\n> old"
    assert strip_quoted_text(french) == "Merci."
    german = "Danke.\n\nAm 24.11.2025 um 10:05 schrieb Support <s@x.example>:\n> old"
    assert strip_quoted_text(german) == "Danke."


def test_apple_mail_quoted_attribution_and_trailing_quotes_are_dropped() -> None:
    text = "Fixed now.\n\n> On 24 Nov 2025, at 10:05, Support <s@x.example> wrote:\n> \n> old\n"
    assert strip_quoted_text(text) == "Fixed now."


def test_outlook_header_blocks_start_the_history() -> None:
    block = (
        "Still broken.\n\nFrom: Support Hub <s@x.example>\nSent: Monday, November 24, 2025\n"
        "To: Carol\nSubject: [SH-000001] x\n\nold text"
    )
    assert strip_quoted_text(block) == "Still broken."
    underscores = "Reply.\n\n________________________________\nFrom: Support\nSent: Monday\nold"
    assert strip_quoted_text(underscores) == "Reply."
    original = "Reply.\n\n-----Original Message-----\nFrom: Support\nold"
    assert strip_quoted_text(original) == "Reply."
    german = "Danke.\n\nVon: Support Hub <s@x.example>\nGesendet: Montag\nAn: Carol\n\nold"
    assert strip_quoted_text(german) == "Danke."


def test_text_that_merely_mentions_from_or_quotes_inline_is_kept() -> None:
    text = "From: the logs, the node restarted.\nIt happened twice."
    assert strip_quoted_text(text) == text
    inline = "> Which version?\n8.15.1\n> Which cloud?\nAWS"
    assert strip_quoted_text(inline) == inline


def test_a_forwarded_message_is_content_and_is_kept() -> None:
    text = (
        "See below.\n\n---------- Forwarded message ---------\nFrom: Alerts <a@x.example>\n"
        "Date: Sun, 23 Nov 2025\nSubject: alert\n\nDisk full."
    )
    assert strip_quoted_text(text) == text


def test_a_reply_that_is_all_history_is_kept_whole() -> None:
    text = "On Mon, 24 Nov 2025 at 10:05, Support <s@x.example> wrote:\n> only quotes"
    assert strip_quoted_text(text) == text


def test_html_history_is_cut_where_the_client_put_it() -> None:
    gmail = '<div>New</div><div class="gmail_quote"><blockquote>old</blockquote></div>'
    assert strip_quoted_html(gmail) == "<div>New</div>"
    apple = '<body>New<blockquote type="cite">old</blockquote></body>'
    assert strip_quoted_html(apple) == "<body>New"
    outlook = '<p>New</p><div id="appendonsend"></div><div id="divRplyFwdMsg">From: x</div>'
    assert strip_quoted_html(outlook) == "<p>New</p>"
    new_outlook = '<p>New</p><div id="mail-editor-reference-message-container"><p>old</p>'
    assert strip_quoted_html(new_outlook) == "<p>New</p>"
    yahoo = '<div>New</div><div class="yahoo_quoted">old</div>'
    assert strip_quoted_html(yahoo) == "<div>New</div>"
    assert strip_quoted_html("<p>no history</p>") == "<p>no history</p>"
    only_quote = '<div class="gmail_quote">old</div>'
    assert strip_quoted_html(only_quote) == only_quote


def test_absurdly_deep_nesting_is_a_structure_problem_not_a_crash() -> None:
    # The stdlib parser recurses once per level and gives up near 1,000 levels.
    depth = 1200
    raw = b"From: a@x.example\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for i in range(1, depth):
        raw += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i - 1, i)
    raw += b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep\r\n" % (depth - 1)
    mail = parse(raw)
    assert mail.structure_problem.startswith("Malformed MIME: the parser gave up")
    assert mail.from_address == "a@x.example"


def test_authentication_results_are_read_with_comments_and_versions_removed() -> None:
    mail = parse(
        _mail(
            "Authentication-Results: MX1.Example.COM;\n"
            "\tdkim=pass (2048-bit key; unprotected) header.d=Initech.Example header.s=s1;\n"
            "\tspf=softfail (domain of x does not designate; see) smtp.mailfrom=a@b.example;\n"
            "\tdmarc/1=fail header.from=initech.example\n"
            "Authentication-Results: other.example; none\n"
            "From: a@x.example\n"
        )
    )
    ours, other = mail.auth_results
    assert ours.authserv_id == "mx1.example.com"
    assert [(r.method, r.result) for r in ours.results] == [
        ("dkim", "pass"),
        ("spf", "softfail"),
        ("dmarc", "fail"),
    ]
    assert ours.results[0].properties["header.d"] == "initech.example"
    assert ours.results[1].properties["smtp.mailfrom"] == "a@b.example"
    assert other.authserv_id == "other.example" and other.results == ()
