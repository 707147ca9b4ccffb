"""The listener's fast read of MAIL FROM / RCPT TO addresses agrees with aiosmtpd's parser."""

from __future__ import annotations

from types import SimpleNamespace

from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from supporthub.intake.email.smtp import plain_address

ATOM = st.text("abcXYZ019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=6) | st.just("=?utf-8?q?abc?=")
ODD = st.text('ab.@<>()\t "[]\\é,;:=\x0b', max_size=12)


def stock(arg: str) -> tuple[str | None, str | None]:
    """aiosmtpd's own reading (no local-part limit)."""
    return SMTP._getaddr(SimpleNamespace(local_part_limit=0), arg)  # type: ignore[arg-type]


@st.composite
def plain_args(draw: st.DrawFn) -> str:
    local = ".".join(draw(st.lists(ATOM, min_size=1, max_size=3)))
    domain = ".".join(draw(st.lists(ATOM, min_size=1, max_size=3)))
    rest = draw(st.sampled_from(["", " SIZE=1234", "  BODY=8BITMIME SMTPUTF8", "\tX=1", " (c) Y"]))
    return f"<{local}@{domain}>{rest}" + draw(ODD)


@settings(max_examples=400, deadline=None)
@given(arg=st.one_of(plain_args(), ODD, ODD.map(lambda odd: "<" + odd)))
def test_a_plain_address_reads_as_aiosmtpd_reads_it(arg: str) -> None:
    plain = plain_address(arg)
    if plain is not None:
        assert plain == stock(arg)


def test_the_usual_forms_are_read_without_the_parser() -> None:
    assert plain_address("<carol@northwind.example>") == ("carol@northwind.example", "")
    assert plain_address("<a.b+tag@mx.example.com> SIZE=1024 BODY=8BITMIME") == (
        "a.b+tag@mx.example.com",
        "SIZE=1024 BODY=8BITMIME",
    )


def test_other_forms_go_to_aiosmtpd() -> None:
    for arg in [
        "<>",  # a bounce's null sender
        '<"quoted local"@example.com>',
        "<user@[192.0.2.1]>",
        "<@relay.example:user@example.com>",  # a source route
        "user@example.com",  # no angle brackets
        " <user@example.com>",
        "<user@example.com> (a comment) SIZE=1",
        "<jöran@example.se>",  # SMTPUTF8
        "<a..b@example.com>",
        "<=?utf-8?q?abc?=@example.com>",  # the parser decodes encoded words in a dot-atom
    ]:
        assert plain_address(arg) is None, arg
