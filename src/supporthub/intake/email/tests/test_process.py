"""Processing stored mail: once each, in one transaction; nothing stops the loop."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from supporthub.intake.email.models import InboundMessage, InboundState, Source
from supporthub.intake.email.outcome import Disposition, MailOutcome, MailUnprocessable
from supporthub.intake.email.selectors import inbox_counts, inbox_stale
from supporthub.intake.email.services import inbox_process_due, inbox_reprocess, inbox_store
from supporthub.intake.email.tests.fakes import message, processed_ok, use_mail_to_ticket
from supporthub.testing.tickets import open_ticket
from supporthub.testing.world import World
from supporthub.tickets.models import Channel, Ticket

pytestmark = pytest.mark.django_db


def _store(number: int, **kwargs: object) -> InboundMessage:
    return inbox_store(
        raw=message(number, **kwargs),  # type: ignore[arg-type]
        source=Source.SMTP,
        mailbox="smtp://127.0.0.1:2525",
    ).message


def _row(row: InboundMessage) -> InboundMessage:
    return InboundMessage.objects.get(pk=row.pk)


class Ticketing:
    """Opens a real ticket per message; raises what it is told to, per subject."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.calls: list[int] = []
        self.raise_for: dict[str, Exception] = {}

    def __call__(self, *, inbound: InboundMessage) -> MailOutcome:
        self.calls.append(inbound.pk)
        ticket = open_ticket(
            organisation=self.world.organisation,
            requester=self.world.carol,
            subject=inbound.subject,
            body="From mail.",
            severity=3,
            channel=Channel.HUB,
            received_at=inbound.received_at,
        )
        if inbound.subject in self.raise_for:
            raise self.raise_for[inbound.subject]  # after writing: the write must be undone
        first = ticket.messages.first()
        return MailOutcome(
            disposition=Disposition.OPENED,
            reason=f"Opened {ticket.reference}.",
            ticket_id=ticket.pk,
            ticket_message_id=first.pk if first else None,
        )


@pytest.fixture
def ticketing(world: World, monkeypatch: pytest.MonkeyPatch) -> Ticketing:
    fake = Ticketing(world)
    use_mail_to_ticket(monkeypatch, fake)
    return fake


def test_a_stored_message_is_processed_once_and_its_outcome_recorded(
    ticketing: Ticketing,
) -> None:
    row = _store(1)

    assert inbox_process_due() == 1
    assert inbox_process_due() == 0

    row = _row(row)
    ticket = Ticket.objects.get()
    assert ticketing.calls == [row.pk]
    assert row.state == InboundState.PROCESSED
    assert row.disposition == Disposition.OPENED
    assert row.reason == f"Opened {ticket.reference}."
    assert row.ticket == ticket
    assert row.ticket_message == ticket.messages.first()
    assert row.processed_at is not None
    assert row.attempts == 1
    assert row.claimed_at is None


def test_unprocessable_mail_is_quarantined_with_its_reason_and_nothing_it_wrote_is_kept(
    ticketing: Ticketing,
) -> None:
    bad = _store(1, subject="broken")
    good = _store(2)
    ticketing.raise_for["broken"] = MailUnprocessable("Malformed MIME: no closing boundary.")

    assert inbox_process_due() == 2

    bad, good = _row(bad), _row(good)
    assert bad.state == InboundState.QUARANTINED
    assert bad.reason == "Malformed MIME: no closing boundary."
    assert bad.ticket is None
    assert good.state == InboundState.PROCESSED  # the loop went on
    assert Ticket.objects.count() == 1  # the quarantined message's ticket was rolled back


def test_a_failure_is_retried_after_the_claim_lapses_then_quarantined_with_its_text(
    ticketing: Ticketing, settings: object
) -> None:
    row = _store(1, subject="flaky")
    ticketing.raise_for["flaky"] = RuntimeError("database hiccup")
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        inbox_process_due()
        assert inbox_process_due() == 0  # not again at once: it waits for the claim to lapse
    first = _row(row)
    assert first.state == InboundState.STORED
    assert first.attempts == 1
    assert first.reason == "Attempt 1 failed: RuntimeError: database hiccup"
    assert Ticket.objects.count() == 0

    for attempt in (2, 3):
        with time_machine.travel(start + timedelta(seconds=121 * (attempt - 1)), tick=False):
            assert inbox_process_due() == 1

    last = _row(row)
    assert last.state == InboundState.QUARANTINED
    assert last.attempts == 3
    assert last.reason == "Attempt 3 failed: RuntimeError: database hiccup"
    assert ticketing.calls == [row.pk] * 3
    assert Ticket.objects.count() == 0


def test_a_retry_that_succeeds_processes_the_message_once(ticketing: Ticketing) -> None:
    row = _store(1, subject="flaky")
    ticketing.raise_for["flaky"] = RuntimeError("deadlock detected")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        inbox_process_due()
    del ticketing.raise_for["flaky"]
    with time_machine.travel(start + timedelta(seconds=121), tick=False):
        inbox_process_due()

    row = _row(row)
    assert row.state == InboundState.PROCESSED
    assert row.attempts == 2
    assert Ticket.objects.count() == 1


def test_a_message_whose_worker_died_is_taken_again_once_the_claim_lapses(
    ticketing: Ticketing,
) -> None:
    row = _store(1)
    start = timezone.now()
    # A worker claimed it, counted its attempt, and was killed before committing.
    InboundMessage.objects.filter(pk=row.pk).update(claimed_at=start, attempts=1)

    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert inbox_process_due() == 0
    with time_machine.travel(start + timedelta(seconds=121), tick=False):
        assert inbox_process_due() == 1

    row = _row(row)
    assert row.state == InboundState.PROCESSED
    assert row.attempts == 2


def test_a_message_that_keeps_killing_its_worker_is_quarantined(
    ticketing: Ticketing,
) -> None:
    row = _store(1)
    start = timezone.now()
    InboundMessage.objects.filter(pk=row.pk).update(claimed_at=start, attempts=3)

    with time_machine.travel(start + timedelta(seconds=121), tick=False):
        assert inbox_process_due() == 0

    row = _row(row)
    assert row.state == InboundState.QUARANTINED
    assert row.reason.startswith("Processing was interrupted 3 times")
    assert ticketing.calls == []


def test_messages_are_processed_in_order_of_receipt_a_batch_at_a_time(
    ticketing: Ticketing,
) -> None:
    rows = [_store(n) for n in range(5)]
    InboundMessage.objects.filter(pk=rows[0].pk).update(
        received_at=timezone.now() + timedelta(seconds=5)
    )

    assert inbox_process_due(limit=2) == 2
    assert inbox_process_due(limit=2) == 2
    assert inbox_process_due(limit=2) == 1

    assert ticketing.calls == [row.pk for row in rows[1:]] + [rows[0].pk]


def test_reprocess_puts_only_quarantined_mail_back_and_it_is_then_processed(
    ticketing: Ticketing,
) -> None:
    bad = _store(1, subject="broken")
    good = _store(2)
    ticketing.raise_for["broken"] = MailUnprocessable("No usable sender.")
    inbox_process_due()
    del ticketing.raise_for["broken"]

    assert inbox_reprocess(ids=[bad.pk, good.pk]) == 1
    bad = _row(bad)
    assert bad.state == InboundState.STORED
    assert bad.attempts == 0
    assert inbox_process_due() == 1

    assert _row(bad).state == InboundState.PROCESSED
    assert _row(good).state == InboundState.PROCESSED
    assert Ticket.objects.count() == 2


def test_counts_and_staleness_for_the_reconciler(ticketing: Ticketing) -> None:
    _store(1)
    _store(2)
    assert inbox_stale(older_than=timedelta(minutes=1)) == 0
    later = timezone.now() + timedelta(minutes=2)
    assert inbox_stale(older_than=timedelta(minutes=1), now=later) == 2
    inbox_process_due(limit=1)
    assert inbox_counts() == {"stored": 1, "processed": 1, "quarantined": 0}
    assert inbox_stale(older_than=timedelta(minutes=1), now=later) == 1


def test_the_inbox_command_processes_reprocesses_and_counts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_mail_to_ticket(monkeypatch, processed_ok)
    row = _store(1)
    other = _store(2)
    InboundMessage.objects.filter(pk=other.pk).update(state=InboundState.QUARANTINED)

    call_command("inbox", "process", "--once")
    call_command("inbox", "reprocess", str(other.pk))
    call_command("inbox", "status")

    out = capsys.readouterr().out
    assert "1 message(s) taken in all" in out
    assert "1 message(s) queued again" in out
    assert "stored: 1\nprocessed: 1\nquarantined: 0" in out
    assert _row(row).disposition == Disposition.IGNORED


def test_a_message_another_worker_finished_meanwhile_keeps_only_that_workers_ticket(
    ticketing: Ticketing, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import transaction

    from supporthub.intake.email import services

    row = _store(1)

    class OtherWorkerFirst:
        """Our claim lapsed: another worker read the row too and committed its outcome just
        before our transaction began."""

        calls = 0

        def atomic(self) -> object:
            self.calls += 1
            if self.calls == 1:  # the processing transaction (the claim is worker.queue's)
                InboundMessage.objects.filter(pk=row.pk).update(
                    state=InboundState.PROCESSED, reason="Done by the other worker."
                )
            return transaction.atomic()

    monkeypatch.setattr(services, "transaction", OtherWorkerFirst())

    assert inbox_process_due() == 1

    done = _row(row)
    assert ticketing.calls == [row.pk]  # this worker did the work ...
    assert done.reason == "Done by the other worker."
    assert done.ticket is None
    assert Ticket.objects.count() == 0  # ... and its ticket was rolled back


@pytest.mark.parametrize("microsecond", [0, 123456])
def test_start_returns_the_row_the_orm_reads_and_counts_the_attempt_once(
    microsecond: int,
) -> None:
    from supporthub.intake.email.services import _start

    row = _store(1)
    # In the past, as a claim is when its attempt starts (_start re-stamps it with now).
    claimed = timezone.now().replace(microsecond=microsecond) - timedelta(seconds=1)
    InboundMessage.objects.filter(pk=row.pk).update(claimed_at=claimed)

    started = _start(row.pk, claimed)

    assert started is not None
    fresh = InboundMessage.objects.get(pk=row.pk)
    for field in InboundMessage._meta.concrete_fields:
        ours, orm = getattr(started, field.attname), getattr(fresh, field.attname)
        ours = bytes(ours) if isinstance(ours, memoryview) else ours
        orm = bytes(orm) if isinstance(orm, memoryview) else orm
        assert (ours, type(ours)) == (orm, type(orm)), field.name
    assert started.attempts == 1 and not started._state.adding
    assert _start(row.pk, claimed) is None  # re-stamped: the old claim is no longer ours
