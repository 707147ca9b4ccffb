from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from supporthub.notify import delivery, tasks
from supporthub.worker import wake

pytestmark = pytest.mark.django_db


class FakeOutbox:
    """Stands in for supporthub.notify: records calls, answers from a script."""

    def __init__(self, delivered: list[int] | None = None, stale: int = 0) -> None:
        self.delivered = list(delivered or [])
        self.stale = stale
        self.deliver_calls: list[dict[str, Any]] = []
        self.stale_calls: list[dict[str, Any]] = []

    def deliver_due(self, **kwargs: Any) -> int:
        self.deliver_calls.append(kwargs)
        return self.delivered.pop(0) if self.delivered else 0

    def outbox_stale(self, **kwargs: Any) -> int:
        self.stale_calls.append(kwargs)
        return self.stale


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> FakeOutbox:
    fake = FakeOutbox()
    monkeypatch.setattr(tasks, "outbox_deliver_due", fake.deliver_due)
    monkeypatch.setattr(tasks, "outbox_stale", fake.outbox_stale)
    return fake


def _queued() -> list[str]:
    return list(
        DBTaskResult.objects.filter(status=TaskResultStatus.READY).values_list(
            "task_path", flat=True
        )
    )


# The worker closes "old" connections between tasks, as it would in production, which a
# test wrapped in a transaction cannot survive: this one commits for real.
@pytest.mark.django_db(transaction=True)
def test_wake_stores_a_task_row_and_a_worker_run_delivers_the_outbox(outbox: FakeOutbox) -> None:
    outbox.delivered = [3]

    delivery.wake()

    assert _queued() == ["supporthub.notify.tasks.deliver_outbox"]
    assert outbox.deliver_calls == []  # enqueued, not run in the caller

    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "default")

    result = DBTaskResult.objects.get()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 3
    assert outbox.deliver_calls == [{"limit": tasks.BATCH}]


def test_a_wake_up_already_waiting_is_not_doubled_but_one_taken_by_a_worker_is(
    outbox: FakeOutbox,
) -> None:
    from supporthub.intake.email.tasks import process_inbox

    for _ in range(5):  # a flood of mail and its acknowledgements
        delivery.wake()
        wake(process_inbox)
    assert sorted(_queued()) == [
        "supporthub.intake.email.tasks.process_inbox",
        "supporthub.notify.tasks.deliver_outbox",
    ]

    # Once a worker has taken the waiting one (RUNNING), it may already have looked for
    # rows: a row committed now needs a wake-up of its own.
    DBTaskResult.objects.filter(task_path="supporthub.notify.tasks.deliver_outbox").update(
        status=TaskResultStatus.RUNNING
    )
    delivery.wake()
    assert sorted(_queued()) == [
        "supporthub.intake.email.tasks.process_inbox",
        "supporthub.notify.tasks.deliver_outbox",
    ]
    assert DBTaskResult.objects.count() == 3


def test_deliver_outbox_drains_batches_until_a_short_one(outbox: FakeOutbox) -> None:
    outbox.delivered = [tasks.BATCH, tasks.BATCH, 5]

    assert tasks.deliver_outbox.call() == 2 * tasks.BATCH + 5
    assert len(outbox.deliver_calls) == 3
    assert _queued() == []


def test_deliver_outbox_stops_after_its_rounds_and_requeues_itself(outbox: FakeOutbox) -> None:
    outbox.delivered = [tasks.BATCH] * (tasks.ROUNDS + 5)

    assert tasks.deliver_outbox.call() == tasks.ROUNDS * tasks.BATCH
    assert len(outbox.deliver_calls) == tasks.ROUNDS
    assert _queued() == ["supporthub.notify.tasks.deliver_outbox"]


def test_reconcile_requeues_delivery_when_rows_are_stale(outbox: FakeOutbox) -> None:
    outbox.stale = 4

    assert tasks.reconcile.call() == 4

    assert outbox.stale_calls == [{"older_than": timedelta(minutes=1)}]
    assert _queued() == ["supporthub.notify.tasks.deliver_outbox"]


def test_reconcile_does_nothing_when_nothing_is_stale(outbox: FakeOutbox) -> None:
    assert tasks.reconcile.call() == 0

    assert outbox.stale_calls == [{"older_than": timedelta(minutes=1)}]
    assert _queued() == []
