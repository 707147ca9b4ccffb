"""The durable queue itself (worker.queue): claim, re-stamp, backoff, recovery of claims a
stopped process held, and the retry; on the outbox's table, with handlers of the tests'."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from supporthub.intake.email.models import InboundMessage, InboundState, Source
from supporthub.notify.models import OutboxKind, OutboxMessage, OutboxState
from supporthub.worker import queue
from supporthub.worker.queue import Backoff, Outcome, Queue

pytestmark = pytest.mark.django_db

# A child that prints the token it would claim with, as holder() builds it, then exits.
_CHILD_TOKEN = (
    "import os, socket\n"
    "stat = open('/proc/self/stat').read()\n"
    "start = stat[stat.rfind(')') + 2:].split()[19]\n"
    "print(f'{socket.gethostname()}:{os.getpid()}:{start}')\n"
)


def _rows(count: int) -> list[OutboxMessage]:
    return [
        OutboxMessage.objects.create(
            kind=OutboxKind.MAIL_AUTO_REPLY,
            dedupe_key=f"test:{n}",
            recipient=f"r{n}@example.com",
            subject=f"Mail {n}",
            text_body="Text.",
            html_body="<p>Text.</p>",
        )
        for n in range(count)
    ]


def _queue(handler: Any = None, **changes: Any) -> Queue[OutboxMessage]:
    """A queue of its own on the outbox's table (not registered: the real one is)."""
    return Queue(
        name="test outbox",
        model=OutboxMessage,
        task="supporthub.notify.tasks.deliver_outbox",
        handler=handler or (lambda row: Outcome.done(sent_at=timezone.now())),
        max_attempts="OUTBOX_MAX_ATTEMPTS",
        stuck_after=timedelta(minutes=15),
        backoff=Backoff(first=timedelta(minutes=1), cap=timedelta(hours=1)),
        **changes,
    )


@pytest.fixture
def woken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The task paths woken (instead of task rows)."""
    calls: list[str] = []
    monkeypatch.setattr(queue, "wake", lambda task: calls.append(task.module_path))
    return calls


@pytest.fixture
def dead_token() -> str:
    """The token of a process that has exited (and been waited for)."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc (Linux) to read a process's start time")
    child = subprocess.run(  # noqa: S603 - our own interpreter, a fixed script
        [sys.executable, "-c", _CHILD_TOKEN], capture_output=True, check=True, text=True
    )
    return child.stdout.strip()


@pytest.fixture
def live_child() -> Iterator[subprocess.Popen[str]]:
    """A process that is alive for the length of the test, printing its token first."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc (Linux) to read a process's start time")
    script = _CHILD_TOKEN + "import sys, time; sys.stdout.flush(); time.sleep(60)\n"
    child = subprocess.Popen(  # noqa: S603 - our own interpreter, a fixed script
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    yield child
    child.kill()
    child.wait()


# -- the holder ----------------------------------------------------------------------------------


def test_the_holder_names_this_host_pid_and_start_time_and_is_alive() -> None:
    host, pid, started = queue.holder().rsplit(":", 2)
    assert (host, int(pid)) == (socket.gethostname(), os.getpid())
    if os.path.isdir("/proc/self"):
        assert started.isdigit()
    assert not queue.holder_gone(queue.holder())


def test_the_holder_is_computed_again_after_a_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    mine = queue.holder()
    monkeypatch.setattr(os, "getpid", lambda: 4242424)
    assert queue.holder().split(":")[1] == "4242424"
    monkeypatch.undo()
    assert queue.holder() == mine


def test_a_dead_or_reused_pid_is_gone_another_hosts_never(dead_token: str) -> None:
    assert queue.holder_gone(dead_token)
    host, pid, started = queue.holder().rsplit(":", 2)
    assert queue.holder_gone(f"{host}:{pid}:{int(started or 0) + 1}")  # pid reused
    assert not queue.holder_gone(f"elsewhere.example:{pid}:{started}")
    assert not queue.holder_gone("not a token")


# -- claim and re-stamp ------------------------------------------------------------------------


def test_a_claim_takes_due_rows_oldest_first_and_records_its_holder() -> None:
    rows = _rows(3)
    OutboxMessage.objects.filter(pk=rows[2].pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    q = _queue()

    assert q.claim(now=timezone.now(), limit=10) == [rows[0].pk, rows[1].pk]
    assert q.claim(now=timezone.now(), limit=10) == []
    claimed = OutboxMessage.objects.get(pk=rows[0].pk)
    assert (claimed.state, claimed.claimed_by) == (OutboxState.SENDING, queue.holder())


@pytest.mark.django_db(transaction=True)
def test_two_claimers_on_postgresql_take_disjoint_rows() -> None:
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE instead of row locks")
    ids = sorted(row.pk for row in _rows(6))
    q = _queue()
    barrier = threading.Barrier(2)
    taken: list[list[int]] = []

    def claimer() -> None:
        try:
            barrier.wait(timeout=10)
            taken.append(q.claim(now=timezone.now(), limit=4))
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=claimer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    first, second = taken
    assert not set(first) & set(second)
    assert sorted(first + second) == ids


def test_the_restamp_refuses_a_row_another_worker_took_back() -> None:
    [row] = _rows(1)
    sent: list[int] = []

    def send(r: OutboxMessage) -> Outcome:
        sent.append(r.pk)
        return Outcome.done()

    q = _queue(send)
    now = timezone.now()
    q.claim(now=now, limit=10)
    mine = OutboxMessage.objects.get(pk=row.pk)
    # Meanwhile another worker recovered it as stuck and claimed it afresh.
    OutboxMessage.objects.filter(pk=row.pk).update(claimed_at=now + timedelta(minutes=16))

    assert not q.restamp(row.pk, claimed_at=mine.claimed_at, now=now)
    q.process(mine, handle=q.handler, now=now)  # type: ignore[arg-type]
    assert sent == []
    assert OutboxMessage.objects.get(pk=row.pk).state == OutboxState.SENDING


# -- outcomes and backoff -----------------------------------------------------------------------


def test_each_outcome_is_recorded_and_an_exception_is_retried() -> None:
    done, retry, give_up, broken = _rows(4)
    by_pk = {
        done.pk: Outcome.done(sent_at=timezone.now()),
        retry.pk: Outcome.retry("busy", after=timedelta(seconds=7)),
        give_up.pk: Outcome.give_up("refused"),
    }
    given_up: list[tuple[int, int, str]] = []

    def handler(row: OutboxMessage) -> Outcome:
        if row.pk == broken.pk:
            raise RuntimeError("a bug")
        return by_pk[row.pk]

    q = _queue(handler, on_given_up=lambda row, n, error: given_up.append((row.pk, n, error)))
    before = timezone.now()
    assert q.deliver_due() == 4

    found = {row.pk: row for row in OutboxMessage.objects.all()}
    assert (found[done.pk].state, found[done.pk].attempts) == (OutboxState.SENT, 1)
    assert found[done.pk].claimed_by == ""
    assert found[retry.pk].state == OutboxState.PENDING
    assert found[retry.pk].next_attempt_at - before >= timedelta(seconds=7)
    assert found[retry.pk].next_attempt_at - before < timedelta(seconds=60)
    assert (found[give_up.pk].state, found[give_up.pk].last_error) == (
        OutboxState.FAILED,
        "refused",
    )
    assert found[broken.pk].state == OutboxState.PENDING
    assert found[broken.pk].last_error == "RuntimeError: a bug"
    assert given_up == [(give_up.pk, 1, "refused")]


def test_the_backoff_doubles_to_its_cap_and_the_jitter_stays_within_its_percent(
    settings: Any,
) -> None:
    backoff = Backoff(first=timedelta(minutes=1), cap=timedelta(hours=1), jitter_setting="J")
    settings.J = 0
    assert [backoff.after(n) for n in (1, 2, 3, 7, 30)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 60, 60)
    ]
    settings.J = 20
    for attempts in range(1, 12):
        base = backoff.base(attempts)
        delays = {backoff.after(attempts) for _ in range(50)}
        assert all(base <= d <= min(base * 1.2, timedelta(hours=1)) for d in delays)
        if base < timedelta(minutes=50):
            assert len(delays) > 1  # spread, not one instant for every row
    assert backoff.after(30) == timedelta(hours=1)  # the cap holds with the jitter


# -- recovery -------------------------------------------------------------------------------------


def test_a_claim_whose_holder_is_dead_is_recovered_at_once(
    dead_token: str, woken: list[str], settings: Any
) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 3
    retried, spent = _rows(2)
    now = timezone.now()
    OutboxMessage.objects.filter(pk=retried.pk).update(
        state=OutboxState.SENDING, claimed_at=now, claimed_by=dead_token
    )
    OutboxMessage.objects.filter(pk=spent.pk).update(
        state=OutboxState.SENDING, claimed_at=now, claimed_by=dead_token, attempts=2
    )

    assert queue.recover_abandoned() == 2

    retried.refresh_from_db()
    spent.refresh_from_db()
    assert (retried.state, retried.attempts, retried.claimed_by) == (OutboxState.PENDING, 1, "")
    assert "interrupted" in retried.last_error
    assert (spent.state, spent.attempts) == (OutboxState.FAILED, 3)  # kills its worker: failed
    assert woken == ["supporthub.notify.tasks.deliver_outbox"]
    assert queue.recover_abandoned() == 0


def test_a_claim_whose_holder_is_alive_waits_for_its_time_out(
    live_child: subprocess.Popen[str], woken: list[str]
) -> None:
    assert live_child.stdout is not None
    token = live_child.stdout.readline().strip()
    rows = _rows(3)
    now = timezone.now()
    for row, holder in zip(rows, [token, queue.holder(), ""], strict=True):
        OutboxMessage.objects.filter(pk=row.pk).update(
            state=OutboxState.SENDING, claimed_at=now, claimed_by=holder
        )

    assert queue.recover_abandoned(now=now + timedelta(minutes=14)) == 0
    assert woken == []
    assert queue.recover_abandoned(now=now + timedelta(minutes=16)) == 3  # timed out
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {OutboxState.PENDING}


def test_an_inbox_claim_of_a_dead_holder_is_given_back_its_attempt_already_counted(
    dead_token: str, woken: list[str]
) -> None:
    row = InboundMessage.objects.create(
        raw=b"Subject: x\r\n\r\nbody",
        sha256="0" * 64,
        dedupe_key="sha256:test",
        source=Source.SMTP,
        mailbox="smtp://test",
        received_at=timezone.now(),
        attempts=1,
        claimed_at=timezone.now(),
        claimed_by=dead_token,
    )

    assert queue.recover_abandoned() == 1

    row.refresh_from_db()
    assert (row.state, row.attempts, row.claimed_at, row.claimed_by) == (
        InboundState.STORED,
        1,
        None,
        "",
    )
    assert woken == ["supporthub.intake.email.tasks.process_inbox"]


def test_nothing_claimed_costs_one_query_per_queue(
    django_assert_num_queries: Any, woken: list[str]
) -> None:
    count = len(queue.queues())
    with django_assert_num_queries(count):
        assert queue.recover_abandoned() == 0


def test_every_queue_is_registered_woken_at_start_and_recovered_every_five_seconds(
    woken: list[str],
) -> None:
    from supporthub.worker.registry import periodic_jobs

    assert {q.name for q in queue.queues()} >= {"outbox", "page deliveries", "inbox"}
    queue.wake_all()
    assert sorted(woken) == [
        "supporthub.development.tasks.process_deliveries",
        "supporthub.intake.email.tasks.process_inbox",
        "supporthub.notify.tasks.deliver_outbox",
        "supporthub.routing.tasks.deliver_pages",
    ]
    [job] = [job for job in periodic_jobs() if job.name == "abandoned claims"]
    assert job.every == 5


# -- retry ----------------------------------------------------------------------------------------


def test_retry_gives_failed_rows_fresh_attempts_and_wakes_after_commit(
    woken: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    failed, pending = _rows(2)
    OutboxMessage.objects.filter(pk=failed.pk).update(
        state=OutboxState.FAILED, attempts=10, last_error="554 rejected"
    )
    q = _queue()

    with django_capture_on_commit_callbacks(execute=True):
        assert q.retry(ids=[failed.pk, pending.pk]) == 1
        assert woken == []
    assert woken == ["supporthub.notify.tasks.deliver_outbox"]
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (OutboxState.PENDING, 0)
    with django_capture_on_commit_callbacks(execute=True):
        assert q.retry(ids=[pending.pk]) == 0
    assert len(woken) == 1  # nothing retried, nobody woken


def test_the_retry_action_says_how_many_were_queued(woken: list[str]) -> None:
    failed, pending = _rows(2)
    OutboxMessage.objects.filter(pk=failed.pk).update(state=OutboxState.FAILED)
    said: list[str] = []

    class Admin:
        def message_user(self, request: Any, text: str, level: Any) -> None:
            said.append(text)

    action = queue.retry_action(
        _queue(),
        name="retry_mail",
        description="Retry",
        message=lambda count, left: f"{count} queued, {left} left",
    )
    assert action.__name__ == "retry_mail"
    assert action.allowed_permissions == ["retry"]  # type: ignore[attr-defined]
    action(Admin(), None, OutboxMessage.objects.all())  # type: ignore[arg-type]
    assert said == ["1 queued, 1 left"]
