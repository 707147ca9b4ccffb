"""DKIM verified by the product: a real signature (dkimpy, a test key served by a DNS
function of the test, no network) passes when aligned with From, and nothing else does."""

from __future__ import annotations

from pathlib import Path

import dkim

from supporthub.intake.email.signatures import aligned, dkim_verify

KEYS = Path(__file__).resolve().parent / "keys"
PRIVATE = (KEYS / "dkim-test-northwind.pem").read_bytes()
PUBLIC = (KEYS / "dkim-test-northwind.pub").read_text().strip()
MESSAGE = (
    b"From: Carol Diaz <carol@northwind.example>\r\n"
    b"To: support@supporthub.example\r\n"
    b"Subject: Nightly reindex failed\r\n"
    b"Date: Mon, 07 Dec 2026 09:00:00 +0000\r\n"
    b"Message-ID: <reindex-1@northwind.example>\r\n"
    b"\r\n"
    b"It failed again at 02:00.\r\n"
)


def _signed(message: bytes = MESSAGE, domain: bytes = b"northwind.example") -> bytes:
    header: bytes = dkim.sign(
        message,
        b"s1",
        domain,
        PRIVATE,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    return header + message


def _dns(records: dict[bytes, str]) -> object:
    asked: list[bytes] = []

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        asked.append(name)
        record = records.get(name)
        return record.encode() if record is not None else None

    lookup.asked = asked  # type: ignore[attr-defined]
    return lookup


KEY = {b"s1._domainkey.northwind.example.": f"v=DKIM1; k=rsa; p={PUBLIC}"}


def test_an_aligned_valid_signature_proves_the_sender() -> None:
    result = dkim_verify(_signed(), "northwind.example", dns=_dns(KEY))  # type: ignore[arg-type]
    assert result.passed and result.aligned == "northwind.example"
    assert result.results == ("d=northwind.example pass",)


def test_a_subdomain_sender_is_aligned_with_its_organisations_signature() -> None:
    result = dkim_verify(_signed(), "eu.northwind.example", dns=_dns(KEY))  # type: ignore[arg-type]
    assert result.passed


def test_a_changed_body_fails() -> None:
    tampered = _signed().replace(b"02:00", b"03:00")
    result = dkim_verify(tampered, "northwind.example", dns=_dns(KEY))  # type: ignore[arg-type]
    assert not result.passed
    assert result.results[0].startswith("d=northwind.example fail")


def test_a_valid_signature_of_another_domain_does_not_prove_from() -> None:
    records = {b"s1._domainkey.mailer.example.": KEY[b"s1._domainkey.northwind.example."]}
    result = dkim_verify(
        _signed(domain=b"mailer.example"),
        "northwind.example",
        dns=_dns(records),  # type: ignore[arg-type]
    )
    assert not result.passed
    assert result.results == ("d=mailer.example pass",)


def test_no_key_in_dns_and_no_signature_fail_without_raising() -> None:
    result = dkim_verify(_signed(), "northwind.example", dns=_dns({}))  # type: ignore[arg-type]
    assert not result.passed and "fail" in result.results[0]
    unsigned = dkim_verify(MESSAGE, "northwind.example", dns=_dns(KEY))  # type: ignore[arg-type]
    assert not unsigned.passed and unsigned.results == ()


def test_relaxed_alignment() -> None:
    assert aligned("northwind.example", "northwind.example")
    assert aligned("eu.northwind.example", "northwind.example")
    assert aligned("northwind.example", "carol@mail.northwind.example")
    assert not aligned("northwind.example", "northwind.example.evil")
    assert not aligned("northwind.example", "")


def test_a_message_dkimpy_cannot_read_fails_without_raising() -> None:
    result = dkim_verify(b"From: a@b.example\r\nBroken header\r\n\r\n", "b.example")
    assert not result.passed and result.results[0].startswith("unreadable for DKIM")
