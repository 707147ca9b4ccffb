"""Rows waiting in the three queues before `claimed_by` existed survive its migrations and
are delivered: pending mail is sent, mail a dead worker left half-sent is taken back by its
time-out and sent, a stored inbound message is processed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from supporthub.intake.email.models import InboundMessage, InboundState
from supporthub.intake.email.services import identify, inbox_process_due
from supporthub.intake.email.tests.mailtools import eml
from supporthub.notify.delivery import STUCK_AFTER, outbox_deliver_due
from supporthub.notify.models import OutboxMessage, OutboxState

BEFORE = [
    ("notify", "0003_outbox_dedupe_constraint"),
    ("intake_email", "0002_leaner_indexes"),
    ("routing", "0002_paging"),
]


@pytest.mark.django_db(transaction=True)
def test_rows_waiting_before_the_holder_was_recorded_are_delivered(settings: object) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    outbox = old.get_model("notify", "OutboxMessage")
    now = timezone.now()
    common = {
        "kind": "mail.auto_reply",
        "recipient": "carol@northwind.example",
        "subject": "Your mail",
        "text_body": "Text",
        "html_body": "<p>Text</p>",
        "headers": {},
    }
    outbox.objects.create(dedupe_key="before:pending", state="pending", **common)
    outbox.objects.create(
        dedupe_key="before:sending",
        state="sending",
        claimed_at=now - STUCK_AFTER - timedelta(minutes=1),
        **common,
    )
    raw = eml(sender="stranger@elsewhere.example", message_id="<before@x>")
    identity = identify(raw)
    old.get_model("intake_email", "InboundMessage").objects.create(
        raw=raw,
        sha256=identity.sha256,
        message_id=identity.message_id,
        dedupe_key=identity.dedupe_key,
        source="smtp",
        mailbox="smtp://127.0.0.1:2525",
        sender=identity.sender,
        subject=identity.subject,
        received_at=now,
        state="stored",
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert set(OutboxMessage.objects.values_list("claimed_by", flat=True)) == {""}
    assert outbox_deliver_due() >= 2
    assert set(OutboxMessage.objects.values_list("state", flat=True)) >= {OutboxState.SENT}
    sent = OutboxMessage.objects.filter(dedupe_key__startswith="before:", state=OutboxState.SENT)
    assert sent.count() == 2
    assert len(mail.outbox) >= 2
    assert inbox_process_due() == 1
    assert InboundMessage.objects.get().state == InboundState.PROCESSED
