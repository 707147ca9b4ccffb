"""INBOUND_MAIL_VERIFY_DKIM: mail to ticket with the product verifying DKIM itself. A Support
Contact's signed mail opens its ticket; unsigned, tampered or signed by another domain, it is
quarantined as not proven (keys served by a DNS function of the test: no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim
import pytest

from supporthub.intake.email import signatures
from supporthub.intake.email.outcome import Disposition, MailUnprocessable
from supporthub.intake.email.tests.mailtools import eml, store
from supporthub.intake.email.ticketing import mail_to_ticket
from supporthub.testing.world import World

KEYS = Path(__file__).resolve().parent / "keys"
PRIVATE = (KEYS / "dkim-test-northwind.pem").read_bytes()
PUBLIC = (KEYS / "dkim-test-northwind.pub").read_text().strip()
MONDAY = datetime(2025, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture
def keys(world: World, settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """DKIM verification on, and the contact's domain's key served as DNS would."""
    settings.INBOUND_MAIL_VERIFY_DKIM = True
    domain = world.carol.email.rpartition("@")[2]
    record = f"v=DKIM1; k=rsa; p={PUBLIC}".encode()

    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == f"s1._domainkey.{domain}.".encode() else None

    monkeypatch.setattr(signatures, "dns_txt", txt)
    return domain


def _signed(raw: bytes, domain: str) -> bytes:
    if b"\r\n" not in raw:
        raw = raw.replace(b"\n", b"\r\n")
    header: bytes = dkim.sign(
        raw, b"s1", domain.encode(), PRIVATE, include_headers=[b"from", b"subject", b"date"]
    )
    return header + raw


@pytest.mark.django_db
def test_a_contacts_signed_mail_opens_its_ticket(world: World, keys: str) -> None:
    raw = _signed(eml(sender=world.carol.email), keys)
    outcome = mail_to_ticket(inbound=store(raw, received_at=MONDAY))
    assert outcome.disposition == Disposition.OPENED


@pytest.mark.django_db
def test_unsigned_tampered_or_foreign_signed_mail_is_not_proven(world: World, keys: str) -> None:
    unsigned = eml(sender=world.carol.email, message_id="<u@x>")
    tampered = _signed(eml(sender=world.carol.email, message_id="<t@x>"), keys).replace(
        b"30 seconds", b"3 seconds"
    )
    foreign = _signed(eml(sender=world.carol.email, message_id="<f@x>"), "elsewhere.example")
    for raw, said in (
        (unsigned, "carries no DKIM signature"),
        (tampered, f"d={keys} fail"),
        (foreign, "d=elsewhere.example fail"),
    ):
        with pytest.raises(MailUnprocessable, match="is not proven") as refused:
            mail_to_ticket(inbound=store(raw, received_at=MONDAY))
        assert said in str(refused.value)
