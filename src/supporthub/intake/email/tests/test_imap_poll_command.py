"""`supporthub imap-poll` keeps polling through a database restart."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.db import connection

from supporthub.intake.email.imap import PollResult
from supporthub.intake.email.management.commands import imap_poll as command
from supporthub.intake.email.models import InboundMessage
from supporthub.testing.database import drop_this_connection


class _Stop(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_the_poll_loop_reconnects_after_the_database_dropped_its_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a server that drops its clients is PostgreSQL's case")
    monkeypatch.setattr(command, "imap_configured", lambda: True)
    outcomes: list[str] = []

    def poll() -> PollResult:
        try:
            InboundMessage.objects.count()
        except Exception as exc:
            outcomes.append(type(exc).__name__)
            raise
        outcomes.append("ok")
        if len(outcomes) == 1:
            drop_this_connection()
        return PollResult()

    def sleep(seconds: float) -> None:
        if len(outcomes) >= 3:
            raise _Stop

    monkeypatch.setattr(command, "imap_poll", poll)
    monkeypatch.setattr(time, "sleep", sleep)  # the command's pause between polls
    with pytest.raises(_Stop):
        call_command("imap-poll", "--interval", "0.1")
    assert outcomes == ["ok", "OperationalError", "ok"]
