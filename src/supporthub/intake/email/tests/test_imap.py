"""IMAP polling against a real dovecot on loopback: stored first, then moved; never lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone
from imapclient import IMAPClient  # type: ignore[import-untyped]

from supporthub.intake.email import imap, services
from supporthub.intake.email.imap import imap_poll
from supporthub.intake.email.models import InboundMessage, InboundState, Source
from supporthub.intake.email.tests.fakes import message
from supporthub.intake.email.tests.servers import Dovecot, dovecot, dovecot_server
from supporthub.worker import registry

__all__ = ["dovecot", "dovecot_server"]  # the fixtures

pytestmark = pytest.mark.django_db


def database_down_for_the_second(**kwargs: object) -> services.Stored:
    """inbox_store, failing for UID 2 as it does while the database restarts."""
    if kwargs["imap_uid"] == 2:
        raise OperationalError("server closed the connection unexpectedly")
    return services.inbox_store(**kwargs)  # type: ignore[arg-type]


def test_new_mail_is_stored_raw_then_moved_to_the_processed_folder(dovecot: Dovecot) -> None:
    arrived = datetime(2025, 11, 24, 15, 0, 7, tzinfo=UTC)
    client = dovecot.client()
    client.append("INBOX", message(1), msg_time=arrived)
    client.append("INBOX", message(2, message_id=None), msg_time=arrived)
    client.logout()

    result = imap_poll(config=dovecot.config())

    assert (result.seen, result.stored, result.already, result.moved) == (2, 2, 0, 2)
    assert result.failed == []
    assert dovecot.uids("INBOX") == []
    assert len(dovecot.uids("Processed")) == 2
    first, second = InboundMessage.objects.order_by("imap_uid")
    assert bytes(first.raw) == message(1)
    assert bytes(second.raw) == message(2, message_id=None)
    assert first.source == Source.IMAP
    assert first.mailbox == f"imap://{dovecot.user}@127.0.0.1:{dovecot.port}/INBOX"
    assert first.imap_uidvalidity == result.uidvalidity
    assert (first.imap_uid, second.imap_uid) == (1, 2)
    assert first.received_at == arrived  # the server's receipt instant, not the Date header
    assert first.state == InboundState.STORED
    assert second.message_id == ""


def test_mail_is_fetched_without_marking_it_read(dovecot: Dovecot) -> None:
    dovecot.append(message(1))

    imap_poll(config=dovecot.config())

    client = dovecot.client()
    client.select_folder("Processed", readonly=True)
    assert client.search(["UNSEEN"]) == [1]
    client.logout()


def test_a_poll_killed_between_storing_and_moving_loses_and_duplicates_nothing(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(message(1), message(2))

    def killed(*args: object) -> None:
        raise ConnectionResetError("the poller died here")

    with monkeypatch.context() as patch:
        patch.setattr(imap, "_move", killed)
        with pytest.raises(ConnectionResetError):
            imap_poll(config=dovecot.config())
    assert InboundMessage.objects.count() == 2  # stored (committed) before the move
    assert len(dovecot.uids("INBOX")) == 2  # and nothing left the folder

    result = imap_poll(config=dovecot.config())

    assert (result.stored, result.already, result.moved) == (0, 2, 2)
    assert InboundMessage.objects.count() == 2
    assert dovecot.uids("INBOX") == []


def test_a_new_uidvalidity_stores_only_the_mail_not_already_stored(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append(message(1))
    with monkeypatch.context() as patch:
        patch.setattr(imap, "_move", lambda *args: None)  # stored, never moved
        before = imap_poll(config=dovecot.config())
    dovecot.renumber_inbox()
    dovecot.append(message(2))

    after = imap_poll(config=dovecot.config())

    assert after.uidvalidity != before.uidvalidity
    assert (after.stored, after.already, after.moved) == (1, 1, 2)
    assert InboundMessage.objects.count() == 2
    assert dovecot.uids("INBOX") == []
    assert "UIDVALIDITY changed" in caplog.text


def test_without_move_mail_is_copied_flagged_and_expunged_by_uid(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(message(1), message(2))
    # Someone else's message flagged \Deleted must survive our expunge.
    other = dovecot.client()
    other.append("INBOX", message(3), flags=[b"\\Deleted"])
    other.logout()
    real = IMAPClient.has_capability
    monkeypatch.setattr(
        IMAPClient, "has_capability", lambda self, cap: cap != "MOVE" and real(self, cap)
    )

    result = imap_poll(config=dovecot.config())

    assert (result.stored, result.moved) == (2, 2)
    assert len(dovecot.uids("Processed")) == 2
    client = dovecot.client()
    client.select_folder("INBOX", readonly=True)
    assert client.search(["ALL"]) == [3]  # only ours were expunged
    client.logout()


def test_a_message_that_cannot_be_stored_stays_in_the_folder_for_the_next_poll(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(message(1), message(2))
    with monkeypatch.context() as patch:
        patch.setattr(imap, "inbox_store", database_down_for_the_second)
        result = imap_poll(config=dovecot.config())
    assert (result.stored, result.moved) == (1, 1)
    assert result.failed == ["UID 2: OperationalError: server closed the connection unexpectedly"]
    assert dovecot.uids("INBOX") == [2]

    again = imap_poll(config=dovecot.config())
    assert (again.stored, again.moved) == (1, 1)
    assert InboundMessage.objects.count() == 2


def test_the_command_polls_the_configured_server(
    dovecot: Dovecot, settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "IMAP_HOST": dovecot.host,
        "IMAP_PORT": dovecot.port,
        "IMAP_USER": dovecot.user,
        "IMAP_PASSWORD": dovecot.password,
        "IMAP_SSL": False,
    }.items():
        setattr(settings, name, value)
    dovecot.append(message(1))

    call_command("imap-poll", "--once")

    assert "1 in the folder: 1 stored, 0 already stored, 1 moved, 0 left" in capsys.readouterr().out
    assert InboundMessage.objects.count() == 1


def test_a_wrong_password_fails_the_command_with_the_servers_answer(
    dovecot: Dovecot, settings: object
) -> None:
    for name, value in {
        "IMAP_HOST": dovecot.host,
        "IMAP_PORT": dovecot.port,
        "IMAP_USER": dovecot.user,
        "IMAP_PASSWORD": "wrong",
        "IMAP_SSL": False,
    }.items():
        setattr(settings, name, value)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="IMAP poll failed"):
        call_command("imap-poll", "--once")


def test_the_poll_is_a_periodic_job_only_when_imap_is_configured(
    settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from supporthub.intake.email import tasks

    monkeypatch.setattr(registry, "_registry", {})
    settings.IMAP_HOST = ""  # type: ignore[attr-defined]
    tasks.register_imap_poll()
    assert "imap poll" not in registry._registry
    settings.IMAP_HOST = "imap.initech.example"  # type: ignore[attr-defined]
    settings.IMAP_POLL_SECONDS = 30  # type: ignore[attr-defined]
    tasks.register_imap_poll()
    assert registry._registry["imap poll"].every == 30.0


def test_a_chunk_of_new_mail_wakes_the_inbox_worker_once_after_storing_it(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(message(1), message(2), message(3))
    stored_at_wake: list[int] = []
    monkeypatch.setattr(
        imap, "wake_inbox", lambda: stored_at_wake.append(InboundMessage.objects.count())
    )

    assert imap_poll(config=dovecot.config()).stored == 3
    assert stored_at_wake == [3]

    assert imap_poll(config=dovecot.config()).stored == 0
    assert stored_at_wake == [3]  # nothing new: no wake-up


def test_a_message_the_server_will_not_send_holds_back_only_itself(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(message(1), message(2), message(3), message(4))
    real = IMAPClient.fetch

    def fetch(self: IMAPClient, messages: list[int], data: list[str], *args: object) -> object:
        # As Gmail and Exchange answer a FETCH naming a message they cannot serve.
        if "BODY.PEEK[]" in data and 3 in messages:
            raise IMAPClient.Error("fetch failed: Some messages could not be FETCHed (Failure)")
        return real(self, messages, data, *args)

    with monkeypatch.context() as patch:
        patch.setattr(IMAPClient, "fetch", fetch)
        result = imap_poll(config=dovecot.config())
    assert (result.stored, result.moved) == (3, 3)
    assert result.failed == [
        "UID 3: the server would not send it: "
        "fetch failed: Some messages could not be FETCHed (Failure)"
    ]
    assert dovecot.uids("INBOX") == [3]

    again = imap_poll(config=dovecot.config())  # the server can send it now
    assert (again.stored, again.moved, again.failed) == (1, 1, [])
    assert InboundMessage.objects.count() == 4


def test_chunks_hold_a_bounded_number_of_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    class Sizes:
        def fetch(self, uids: list[int], data: list[str]) -> dict[int, dict[bytes, int]]:
            assert data == ["RFC822.SIZE"]
            sizes = {1: 10, 2: 10, 3: 50, 4: 10, 5: 10, 6: 10}
            return {uid: {b"RFC822.SIZE": sizes[uid]} for uid in uids}

    monkeypatch.setattr(imap, "CHUNK_BYTES", 25)
    monkeypatch.setattr(imap, "BATCH", 2)
    chunks = list(imap._chunks(Sizes(), [1, 2, 3, 4, 5, 6]))
    # 3 is larger than a chunk may hold: it comes alone; 4-6 are cut at BATCH.
    assert chunks == [[1, 2], [3], [4, 5], [6]]


def test_mail_put_in_the_folder_after_a_complete_poll_is_received_when_it_is_found(
    dovecot: Dovecot,
) -> None:
    """A migration or a drag and drop APPENDs old mail with an old INTERNALDATE: its clock
    starts when the poll finds it, not at the date a client chose."""
    delivered = datetime.now(tz=UTC) - timedelta(minutes=2)
    client = dovecot.client()
    client.append("INBOX", message(1), msg_time=delivered)
    client.logout()
    first = imap_poll(config=dovecot.config())  # complete: it took all it found
    assert first.stored == 1
    assert InboundMessage.objects.get().received_at == delivered.replace(microsecond=0)

    client = dovecot.client()
    client.append("INBOX", message(2), msg_time=datetime(2020, 1, 1, 9, 0, tzinfo=UTC))
    client.append("INBOX", message(3), msg_time=datetime.now(tz=UTC) - timedelta(seconds=1))
    client.logout()
    before = timezone.now()
    imap_poll(config=dovecot.config())
    old, recent = InboundMessage.objects.filter(imap_uid__in=[2, 3]).order_by("imap_uid")
    assert before <= old.received_at <= timezone.now()  # not 2020
    assert recent.received_at < before  # delivered since the last poll: INTERNALDATE stands


def test_after_a_poll_that_left_mail_behind_its_internaldate_still_stands(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrived = datetime.now(tz=UTC).replace(microsecond=0) - timedelta(hours=3)
    client = dovecot.client()
    client.append("INBOX", message(1), msg_time=arrived)
    client.append("INBOX", message(2), msg_time=arrived)
    client.logout()
    with monkeypatch.context() as patch:
        patch.setattr(imap, "inbox_store", database_down_for_the_second)
        imap_poll(config=dovecot.config())
    imap_poll(config=dovecot.config())  # the first poll was not complete: no floor yet
    assert InboundMessage.objects.get(imap_uid=2).received_at == arrived


def test_chunks_fall_back_to_batch_when_the_server_refuses_the_sizes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Refusing:
        def fetch(self, uids: list[int], data: list[str]) -> dict[int, dict[bytes, int]]:
            raise IMAPClient.Error("fetch failed: Some messages could not be FETCHed (Failure)")

    monkeypatch.setattr(imap, "BATCH", 2)
    assert list(imap._chunks(Refusing(), [1, 2, 3, 4, 5])) == [[1, 2], [3, 4], [5]]
