"""Inbound mail settings: defaults that run with no environment; bad values fail by name."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from supporthub.testing.settings import settings_read

NAMES = ["IMAP_HOST", "IMAP_SSL", "IMAP_PORT", "IMAP_USER", "IMAP_PASSWORD", "IMAP_FOLDER"]
NAMES += ["IMAP_PROCESSED_FOLDER", "SMTP_LISTEN_PORT", "INBOX_MAX_ATTEMPTS"]


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    return settings_read(monkeypatch, cleared=NAMES, **env)


def test_with_no_environment_imap_is_off_and_the_listener_is_on_loopback_2525(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = _settings(monkeypatch)

    assert found["IMAP_HOST"] == ""
    assert (found["SMTP_LISTEN_HOST"], found["SMTP_LISTEN_PORT"]) == ("127.0.0.1", 2525)
    assert (found["INBOX_MAX_ATTEMPTS"], found["INBOX_CLAIM_SECONDS"]) == (3, 120)


def test_imap_over_tls_defaults_to_993_and_plain_to_143(monkeypatch: pytest.MonkeyPatch) -> None:
    imap = {"IMAP_HOST": "imap.example", "IMAP_USER": "support", "IMAP_PASSWORD": "pw"}
    assert _settings(monkeypatch, **imap)["IMAP_PORT"] == 993
    assert _settings(monkeypatch, **imap, IMAP_SSL="false")["IMAP_PORT"] == 143


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"IMAP_HOST": "imap.example"}, "IMAP_USER and IMAP_PASSWORD"),
        (
            {
                "IMAP_HOST": "h",
                "IMAP_USER": "u",
                "IMAP_PASSWORD": "p",
                "IMAP_PROCESSED_FOLDER": "INBOX",
            },
            "IMAP_PROCESSED_FOLDER",
        ),
        ({"SMTP_LISTEN_PORT": "smtp"}, "SMTP_LISTEN_PORT"),
        ({"INBOX_MAX_ATTEMPTS": "0"}, "INBOX_MAX_ATTEMPTS"),
        ({"IMAP_SSL": "maybe"}, "IMAP_SSL"),
    ],
)
def test_bad_values_fail_loudly_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=named):
        _settings(monkeypatch, **env)
