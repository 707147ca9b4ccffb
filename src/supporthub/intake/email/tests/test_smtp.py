"""The SMTP listener, through a real socket with smtplib: 250 once stored, 451 otherwise."""

from __future__ import annotations

import base64
import smtplib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.db import OperationalError
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from supporthub.intake.email import services, smtp
from supporthub.intake.email.models import InboundMessage, Source
from supporthub.intake.email.smtp import listener
from supporthub.intake.email.tests.fakes import message
from supporthub.intake.email.tests.servers import free_port

# The listener stores from its own threads, on their own connections: the rows must commit.
pytestmark = pytest.mark.django_db(transaction=True)
CORPUS = Path(django_settings.SRC_DIR).parent.parent / "tests" / "mail"
SMALL_LIMIT = 64 * 1024


def _serving() -> Iterator[Controller]:
    controller = listener(host="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
        smtp_handler = controller.handler
        assert isinstance(smtp_handler, smtp.InboxHandler)
        smtp_handler.close()


@pytest.fixture
def server() -> Iterator[Controller]:
    yield from _serving()


@pytest.fixture
def small_server(settings: Any) -> Iterator[Controller]:
    """A listener taking messages of at most 64 KiB."""
    settings.SMTP_LISTEN_MAX_BYTES = SMALL_LIMIT
    yield from _serving()


def _send(server: Controller, raw: bytes, to: str = "support@supporthub.example") -> bytes:
    """Send one message; the server's reply to DATA (raises SMTPDataError on 4xx/5xx)."""
    with smtplib.SMTP(server.hostname, server.port, timeout=10) as client:
        client.ehlo()
        client.mail("carol@initech.example")
        client.rcpt(to)
        code, reply = client.data(raw)
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return reply


def test_a_message_sent_over_smtp_is_stored_raw_before_the_250(server: Controller) -> None:
    raw = message(1, body="Line one.\r\n.A line starting with a dot.\r\n")

    reply = _send(server, raw)

    row = InboundMessage.objects.get()
    assert reply == f"2.0.0 Stored as {row.pk}".encode()
    assert bytes(row.raw) == raw  # dot-stuffing undone, line endings as sent
    assert row.source == Source.SMTP
    assert row.mailbox == f"smtp://127.0.0.1:{server.port}"
    assert row.envelope_sender == "carol@initech.example"
    assert row.envelope_recipients == ["support@supporthub.example"]
    assert row.message_id == "<inbox-test-1@initech.example>"


def test_a_stored_message_wakes_the_inbox_worker(server: Controller) -> None:
    _send(server, message(1))
    _send(server, message(2))

    # The listener's waker thread wakes the worker just after the 250: wait for it.
    queued = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    deadline = time.monotonic() + 10
    while not queued.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # a second wake-up, were there one, would be written by now
    # One wake-up waiting is enough for both messages (the second found it READY).
    assert list(queued.values_list("task_path", flat=True)) == [
        "supporthub.intake.email.tasks.process_inbox"
    ]


def test_a_message_delivered_twice_is_accepted_twice_and_stored_once(server: Controller) -> None:
    first = _send(server, message(1))
    second = _send(server, message(1))

    assert first == second
    assert InboundMessage.objects.count() == 1


def test_a_storage_failure_answers_451_and_the_retry_is_stored(
    server: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = services.inbox_store
    calls: list[int] = []

    def failing_once(**kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("could not connect to server")
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(smtp, "inbox_store", failing_once)

    with pytest.raises(smtplib.SMTPDataError) as refused:
        _send(server, message(1))
    assert refused.value.smtp_code == 451  # a temporary failure: the MTA keeps the mail
    assert InboundMessage.objects.count() == 0

    _send(server, message(1))  # the MTA's retry
    assert InboundMessage.objects.count() == 1


def test_any_error_at_all_is_a_451_never_a_5xx(
    server: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: object) -> object:
        raise ZeroDivisionError("a bug, not a database problem")

    monkeypatch.setattr(smtp, "inbox_store", broken)

    with pytest.raises(smtplib.SMTPDataError) as refused:
        _send(server, message(1))
    assert refused.value.smtp_code == 451


def test_a_line_longer_than_rfc_5321_allows_is_taken_and_stored_whole(server: Controller) -> None:
    raw = (CORPUS / "long-line-over-1000-octets.eml").read_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) > 7000

    _send(server, raw)

    assert bytes(InboundMessage.objects.get().raw) == raw


def test_an_attachment_in_one_base64_line_of_a_megabyte_is_taken(server: Controller) -> None:
    raw = message(1, body="See the log.\r\n")
    raw = raw.replace(b"Content-Type: text/plain", b"Content-Type: application/octet-stream")
    raw = raw.replace(b"See the log.", base64.b64encode(bytes(768 * 1024)))

    _send(server, raw)

    assert bytes(InboundMessage.objects.get().raw) == raw


def test_lines_as_long_as_the_size_limit_are_taken_only_a_larger_message_is_refused(
    small_server: Controller,
) -> None:
    head = message(1, body="")
    _send(small_server, head + b"x" * (SMALL_LIMIT - len(head) - 100) + b"\r\n")
    assert InboundMessage.objects.count() == 1

    # Over SMTP_LISTEN_MAX_BYTES, which EHLO announces as SIZE: the sender's fault, refused.
    with pytest.raises(smtplib.SMTPDataError) as refused:
        _send(small_server, message(2, body="") + b"x" * SMALL_LIMIT + b"\r\n")
    assert refused.value.smtp_code in (500, 552)
    assert InboundMessage.objects.count() == 1


def test_unparseable_mail_is_still_accepted_and_stored(server: Controller) -> None:
    raw = b"Subject: =?x-klingon?q?qapla=27?=\r\nContent-Type: multipart/mixed\r\n\r\n\xff\xfe\r\n"

    _send(server, raw)

    row = InboundMessage.objects.get()
    assert bytes(row.raw) == raw
    assert row.message_id == ""


def test_closing_the_listener_closes_every_storing_threads_connection() -> None:
    controller = listener(host="127.0.0.1", port=free_port())
    controller.start()
    handler = controller.handler
    assert isinstance(handler, smtp.InboxHandler)
    try:
        senders = [
            threading.Thread(target=_send, args=(controller, message(n))) for n in range(1, 9)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        opened = list(handler.connections)
        assert opened and all(wrapper.connection is not None for wrapper in opened)
    finally:
        controller.stop()
        handler.close()
    assert all(wrapper.connection is None for wrapper in opened)
    assert InboundMessage.objects.count() == 8
