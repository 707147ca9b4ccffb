"""Inbound mail's identity by deliberate choice: `check --deploy` reports an error, and the
processes that take mail in log one, until a way of trusting From is chosen."""

from __future__ import annotations

import logging
import runpy
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

import supporthub.settings as live_settings
from supporthub.intake.email.checks import log_sender_check, sender_authentication, sender_check

CHOICES = ("INBOUND_MAIL_AUTHSERV_ID", "INBOUND_MAIL_VERIFY_DKIM", "INBOUND_MAIL_TRUST_FROM")


def _unchosen(settings: Any) -> None:
    settings.INBOUND_MAIL_AUTHSERV_ID = ""
    settings.INBOUND_MAIL_VERIFY_DKIM = False
    settings.INBOUND_MAIL_TRUST_FROM = False


def test_with_nothing_chosen_the_deploy_check_is_an_error(settings: Any) -> None:
    _unchosen(settings)
    [error] = sender_authentication()
    assert error.id == "intake_email.E001"
    assert error.is_serious()
    assert "INBOUND_MAIL_TRUST_FROM=true" in (error.hint or "")


@pytest.mark.parametrize(
    ("name", "value", "chosen"),
    [
        ("INBOUND_MAIL_AUTHSERV_ID", "mx.supporthub.example", "authserv"),
        ("INBOUND_MAIL_VERIFY_DKIM", True, "dkim"),
        ("INBOUND_MAIL_TRUST_FROM", True, "trust"),
    ],
)
def test_each_deliberate_choice_passes(settings: Any, name: str, value: Any, chosen: str) -> None:
    _unchosen(settings)
    setattr(settings, name, value)
    assert sender_check() == chosen
    assert sender_authentication() == []


def test_the_listener_and_poller_log_it_loudly_until_chosen(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _unchosen(settings)
    logger = logging.getLogger("supporthub.test.intake")
    with caplog.at_level(logging.ERROR, logger=logger.name):
        log_sender_check(logger)
        settings.INBOUND_MAIL_TRUST_FROM = True
        log_sender_check(logger)
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "no way of trusting the From address was chosen" in record.getMessage()


def test_trust_cannot_be_combined_with_a_check(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CHOICES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INBOUND_MAIL_TRUST_FROM", "true")
    monkeypatch.setenv("INBOUND_MAIL_VERIFY_DKIM", "true")
    with pytest.raises(ImproperlyConfigured, match="INBOUND_MAIL_TRUST_FROM"):
        runpy.run_path(live_settings.__file__)


def test_imap_poll_says_it_at_start(
    settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from django.core.management import call_command

    from supporthub.intake.email.imap import PollResult
    from supporthub.intake.email.management.commands import imap_poll as command

    _unchosen(settings)
    monkeypatch.setattr(command, "imap_configured", lambda: True)
    monkeypatch.setattr(command, "imap_poll", lambda: PollResult())
    with caplog.at_level(logging.ERROR):
        call_command("imap-poll", "--once")
    assert any("no way of trusting the From address" in r.getMessage() for r in caplog.records)


def test_the_smtp_listener_says_it_at_start(
    settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from django.core.management import call_command

    from supporthub.intake.email.management.commands import smtp_listen as command

    class Controller:
        handler = None

        def start(self) -> None:
            pass

        def stop(self) -> None:
            pass

    class Stopped(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            return True

    _unchosen(settings)
    monkeypatch.setattr(command, "listener", lambda **kwargs: Controller())
    monkeypatch.setattr(threading, "Event", Stopped)  # the command waits on one to stop
    with caplog.at_level(logging.ERROR):
        call_command("smtp-listen", "--port", "0")
    assert any("no way of trusting the From address" in r.getMessage() for r in caplog.records)
