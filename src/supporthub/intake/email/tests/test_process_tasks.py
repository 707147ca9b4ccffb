"""Tasks only wake workers: process_inbox drains the stored rows, the reconciler re-queues."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from supporthub.intake.email import tasks
from supporthub.intake.email.models import InboundMessage, InboundState, Source
from supporthub.intake.email.services import inbox_store
from supporthub.intake.email.tests.fakes import message, processed_ok, use_mail_to_ticket
from supporthub.worker.registry import periodic_jobs

pytestmark = pytest.mark.django_db


def _queued() -> list[str]:
    return list(
        DBTaskResult.objects.filter(status=TaskResultStatus.READY).values_list(
            "task_path", flat=True
        )
    )


def test_process_inbox_drains_every_stored_message_in_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_mail_to_ticket(monkeypatch, processed_ok)
    monkeypatch.setattr(tasks, "BATCH", 2)
    for number in range(5):
        inbox_store(raw=message(number), source=Source.SMTP, mailbox="smtp://a")

    assert tasks.process_inbox.call() == 5

    assert set(InboundMessage.objects.values_list("state", flat=True)) == {InboundState.PROCESSED}


def test_a_flood_requeues_the_task_instead_of_holding_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_mail_to_ticket(monkeypatch, processed_ok)
    monkeypatch.setattr(tasks, "BATCH", 1)
    monkeypatch.setattr(tasks, "ROUNDS", 2)
    for number in range(3):
        inbox_store(raw=message(number), source=Source.SMTP, mailbox="smtp://a")

    assert tasks.process_inbox.call() == 2
    assert _queued() == ["supporthub.intake.email.tasks.process_inbox"]


def test_the_reconciler_wakes_a_worker_only_for_mail_waiting_over_a_minute() -> None:
    inbox_store(raw=message(1), source=Source.SMTP, mailbox="smtp://a")

    assert tasks.reconcile_inbox.call() == 0
    assert _queued() == []
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert tasks.reconcile_inbox.call() == 1
    assert _queued() == ["supporthub.intake.email.tasks.process_inbox"]


def test_the_reconciler_runs_every_minute_in_the_worker() -> None:
    jobs = {job.name: job for job in periodic_jobs()}
    assert jobs["inbox reconciler"].every == 60.0
