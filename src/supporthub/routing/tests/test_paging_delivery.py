"""Delivering pages: PagerDuty's Events API v2 and a signed webhook on a local receiver,
retried through 429 (Retry-After), 500 and timeouts, exactly one page in the end, however
many workers run."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine

from supporthub.notify import webhook
from supporthub.routing import delivery, paging
from supporthub.routing.models import (
    DeliveryState,
    PageAction,
    PageDelivery,
    Rotation,
    Transport,
)
from supporthub.routing.tests.paging_world import (
    NIGHT,
    ROUTING_KEY,
    codes,
    open_at,
)
from supporthub.routing.tests.receiver import Receiver, Reply
from supporthub.testing.world import World
from supporthub.tickets.models import Ticket


@pytest.fixture(autouse=True)
def _no_jitter(settings: Any) -> None:
    """The backoff's schedule exactly (the jitter is tested with the queue, worker.queue)."""
    settings.PAGING_BACKOFF_JITTER = 0


# -- PagerDuty through a local receiver -------------------------------------------------------


def test_pagerduty_gets_one_trigger_through_429_500_and_a_timeout(
    acme: Any, rotations: dict[str, Rotation], receiver: Receiver
) -> None:
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    receiver.script = [
        Reply(429, {"Retry-After": "120"}),
        Reply(500),
        Reply(stall=2.0),
    ]
    with time_machine.travel(NIGHT, tick=False) as clock:
        ticket = open_at(acme, NIGHT)
        [row] = PageDelivery.objects.filter(page__ticket=ticket)
        assert (row.transport, row.action) == (Transport.PAGERDUTY, PageAction.TRIGGER)

        assert delivery.paging_deliver_due() == 1  # 429: wait as long as asked
        row.refresh_from_db()
        assert (row.state, row.attempts, row.last_status) == (DeliveryState.PENDING, 1, 429)
        assert row.next_attempt_at == NIGHT + timedelta(seconds=120)
        assert delivery.paging_deliver_due() == 0  # not due yet

        clock.shift(timedelta(seconds=120))
        assert delivery.paging_deliver_due() == 1  # 500: back off a minute (2nd failure)
        row.refresh_from_db()
        assert (row.attempts, row.last_status) == (2, 500)
        assert row.next_attempt_at == NIGHT + timedelta(seconds=180)

        clock.shift(timedelta(seconds=60))
        assert delivery.paging_deliver_due() == 1  # no answer: back off two minutes
        row.refresh_from_db()
        assert (row.state, row.attempts, row.last_status) == (DeliveryState.PENDING, 3, None)
        assert "timed out" in row.last_error

        clock.shift(timedelta(minutes=2))
        assert delivery.paging_deliver_due() == 1
        row.refresh_from_db()
        assert (row.state, row.attempts, row.last_status) == (DeliveryState.SENT, 4, 202)

        clock.shift(timedelta(hours=1))
        assert delivery.paging_deliver_due() == 0  # a later run sends nothing more

    assert len(receiver.requests) == 4
    [accepted] = receiver.accepted("/v2/enqueue")
    event = accepted.json()
    assert {r.json()["dedup_key"] for r in receiver.requests} == {ticket.reference}
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["summary"].startswith(f"[{ticket.reference}] URGENT after hours")
    assert event["payload"]["source"] == "127.0.0.1"
    assert event["payload"]["custom_details"]["on_call"] == "Emil"
    assert event["links"] == [
        {
            "href": f"http://127.0.0.1:8000/console/tickets/{ticket.pk}/",
            "text": f"{ticket.reference} in Support Hub",
        }
    ]
    assert accepted.headers["User-Agent"].startswith("SupportHub")
    delivered = ticket.audit.get(code="oncall.page_delivered").data
    assert (delivered["transport"], delivered["attempts"]) == ("pagerduty", 4)


def test_a_refused_event_fails_at_once_and_the_admin_can_retry_it(
    acme: Any, rotations: dict[str, Rotation], receiver: Receiver, admin_client: Any
) -> None:
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    receiver.script = [Reply(400)]
    ticket = open_at(acme, NIGHT)
    delivery.paging_deliver_due()
    row = PageDelivery.objects.get()
    assert (row.state, row.attempts, row.last_status) == (DeliveryState.FAILED, 1, 400)
    failed = ticket.audit.get(code="oncall.page_failed").data
    assert (failed["transport"], failed["action"]) == ("pagerduty", "trigger")

    listing = admin_client.get("/admin/routing/pagedelivery/?state__exact=failed")
    assert listing.status_code == 200 and b"HTTP 400" not in listing.content  # list columns
    response = admin_client.post(
        "/admin/routing/pagedelivery/", {"action": "retry_failed", "_selected_action": [row.pk]}
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.PENDING, 0)
    delivery.paging_deliver_due()
    row.refresh_from_db()
    assert row.state == DeliveryState.SENT
    assert len(receiver.accepted()) == 1
    assert admin_client.get(f"/admin/routing/page/{row.page_id}/change/").status_code == 200


def test_a_delivery_gives_up_after_the_last_attempt(
    acme: Any, rotations: dict[str, Rotation], receiver: Receiver, settings: Any
) -> None:
    settings.PAGING_MAX_ATTEMPTS = 2
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    receiver.script = [Reply(503), Reply(503)]
    with time_machine.travel(NIGHT, tick=False) as clock:
        ticket = open_at(acme, NIGHT)
        delivery.paging_deliver_due()
        clock.shift(timedelta(minutes=1))
        delivery.paging_deliver_due()
    row = PageDelivery.objects.get()
    assert (row.state, row.attempts) == (DeliveryState.FAILED, 2)
    assert codes(ticket)[-1] == "oncall.page_failed"


def test_a_retry_after_date_is_honoured_and_capped() -> None:
    from supporthub.http import Response

    now = datetime(2025, 3, 4, 3, 0, tzinfo=UTC)
    dated = Response(429, {"retry-after": "Tue, 04 Mar 2025 03:05:00 GMT"}, "")
    assert dated.retry_after(now=now) == timedelta(minutes=5)
    assert Response(429, {"retry-after": "soon"}, "").retry_after(now=now) is None
    # An absurd value must not overflow (it would abort the whole delivery batch).
    huge = Response(429, {"retry-after": "99999999999999"}, "")
    assert huge.retry_after(now=now) == timedelta(days=1)
    far = Response(429, {"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}, "")
    assert far.retry_after(now=now) == timedelta(days=1)
    assert delivery.backoff(1) == timedelta(seconds=30)
    assert delivery.backoff(20) == timedelta(minutes=15)


# -- the signed webhook -------------------------------------------------------------------------


def test_the_webhook_is_signed_and_carries_a_delivery_id_that_survives_retries(
    acme: Any, rotations: dict[str, Rotation], receiver: Receiver
) -> None:
    rotation = rotations["eu"]
    rotation.webhook_url = f"{receiver.url}/hooks/pages"
    rotation.webhook_secret = "s3cret"
    rotation.save()
    receiver.script = [Reply(502)]
    with time_machine.travel(NIGHT, tick=False) as clock:
        ticket = open_at(acme, NIGHT)
        delivery.paging_deliver_due()
        clock.shift(timedelta(seconds=30))
        delivery.paging_deliver_due()
        first, second = receiver.requests
        row = PageDelivery.objects.get()
        assert row.state == DeliveryState.SENT
        ids = {r.headers["X-SupportHub-Delivery"] for r in (first, second)}
        assert ids == {str(row.delivery_id)}
        webhook.verify(second.body, second.headers, secret="s3cret", now=NIGHT)
        body = second.json()
        assert body["event"] == "oncall.trigger"
        assert body["ticket"]["reference"] == ticket.reference
        assert body["on_call"] == {"name": "Emil", "email": "emil@example.com"}
        assert second.headers["X-SupportHub-Event"] == "oncall.trigger"
        with pytest.raises(webhook.SignatureError, match="X-SupportHub-Signature"):
            webhook.verify(second.body + b" ", second.headers, secret="s3cret", now=NIGHT)
        with pytest.raises(webhook.SignatureError, match="X-SupportHub-Signature"):
            webhook.verify(second.body, second.headers, secret="other", now=NIGHT)
        with pytest.raises(webhook.SignatureError, match="X-SupportHub-Timestamp"):
            later = NIGHT + timedelta(minutes=10)
            webhook.verify(second.body, second.headers, secret="s3cret", now=later)


def test_a_webhook_without_a_secret_is_refused_by_the_rotation_form() -> None:
    from django.core.exceptions import ValidationError

    rotation = Rotation(
        name="EU",
        region="eu",
        time_zone="Europe/Paris",
        handoff_time=time(9),
        starts_on=date(2025, 1, 6),
        webhook_url="https://hooks.example/pages",
    )
    with pytest.raises(ValidationError) as caught:
        rotation.clean()
    assert "webhook_secret" in caught.value.message_dict


def test_settings_configure_pages_for_rotations_that_name_none(
    acme: Any, rotations: dict[str, Rotation], receiver: Receiver, settings: Any
) -> None:
    settings.PAGING_PAGERDUTY_ROUTING_KEY = ROUTING_KEY
    settings.PAGING_WEBHOOK_URL = f"{receiver.url}/hook"
    settings.PAGING_WEBHOOK_SECRET = "k"
    ticket = open_at(acme, NIGHT)
    assert ticket.audit.get(code="oncall.paged").data["transports"] == [
        "pagerduty",
        "webhook",
        "email",
    ]
    assert delivery.paging_deliver_due() == 2
    assert sorted(r.path for r in receiver.accepted()) == ["/hook", "/v2/enqueue"]


# -- workers ---------------------------------------------------------------------------------------


def test_two_workers_claim_a_delivery_once(
    acme: Any, rotations: dict[str, Rotation], receiver: Receiver
) -> None:
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    open_at(acme, NIGHT)
    now = datetime.now(UTC)
    first = delivery.DELIVERIES.claim(now=now, limit=10)
    second = delivery.DELIVERIES.claim(now=now, limit=10)
    assert len(first) == 1 and second == []


def test_a_slow_worker_does_not_send_a_delivery_another_worker_took_back(
    acme: Any, rotations: dict[str, Rotation], receiver: Receiver
) -> None:
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    open_at(acme, NIGHT)
    now = datetime.now(UTC)
    [claimed] = delivery.DELIVERIES.claim(now=now, limit=10)
    stale = PageDelivery.objects.get(pk=claimed)
    PageDelivery.objects.filter(pk=claimed).update(claimed_at=now + timedelta(minutes=6))
    delivery.DELIVERIES.process(stale, handle=delivery.deliver, now=now)
    assert receiver.requests == []


def test_a_delivery_left_sending_by_a_dead_worker_is_recovered(
    acme: Any, rotations: dict[str, Rotation], receiver: Receiver
) -> None:
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    open_at(acme, NIGHT)
    now = datetime.now(UTC)
    delivery.DELIVERIES.claim(now=now - timedelta(minutes=10), limit=10)
    assert delivery.paging_deliver_due(now=now) == 1
    row = PageDelivery.objects.get()
    assert (row.state, row.attempts) == (DeliveryState.SENT, 2)
    assert len(receiver.accepted()) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_at_once_send_one_page(
    world: World, acme: Any, rotations: dict[str, Rotation], receiver: Receiver
) -> None:
    import threading

    from django.db import connection

    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE instead of row locks")
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    for _ in range(3):
        open_at(acme, NIGHT)
    barrier = threading.Barrier(2)
    tried: list[int] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            tried.append(delivery.paging_deliver_due(limit=50))
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(tried) == 3
    assert sorted(r.json()["dedup_key"] for r in receiver.accepted()) == sorted(
        t.reference for t in Ticket.objects.all()
    )


def test_the_reconciler_is_registered_and_wakes_a_worker_for_due_deliveries(
    acme: Any, rotations: dict[str, Rotation], monkeypatch: pytest.MonkeyPatch
) -> None:
    from supporthub.routing import tasks
    from supporthub.worker.registry import periodic_jobs

    assert "paging reconciler" in {job.name for job in periodic_jobs()}
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    woken: list[bool] = []
    monkeypatch.setattr(paging, "wake", lambda: woken.append(True))
    assert tasks.reconcile_pages.call() == 0
    assert woken == []
    open_at(acme, NIGHT)
    assert tasks.reconcile_pages.call() == 1
    assert woken == [True]


def test_a_page_wakes_a_worker_only_after_commit_and_the_task_delivers_it(
    acme: Any,
    rotations: dict[str, Rotation],
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from supporthub.routing import tasks

    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    woken: list[bool] = []
    monkeypatch.setattr(paging, "wake", lambda: woken.append(True))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        open_at(acme, NIGHT)
    assert woken == []
    for callback in callbacks:
        callback()
    assert woken == [True]
    assert tasks.deliver_pages.call() == 1
    assert len(receiver.accepted("/v2/enqueue")) == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PAGING_WEBHOOK_URL": "hooks.example/pages"}, "PAGING_WEBHOOK_URL="),
        ({"PAGING_WEBHOOK_URL": "https://hooks.example/p"}, "PAGING_WEBHOOK_SECRET is empty"),
        ({"PAGING_PAGERDUTY_EVENTS_URL": "ftp://x"}, "PAGING_PAGERDUTY_EVENTS_URL="),
        ({"PAGING_PAGERDUTY_EVENTS_URL": ""}, "PAGING_PAGERDUTY_EVENTS_URL must not be empty"),
        ({"PAGING_MAX_ATTEMPTS": "0"}, "PAGING_MAX_ATTEMPTS="),
        ({"PAGING_HTTP_TIMEOUT": "soon"}, "PAGING_HTTP_TIMEOUT="),
    ],
)
def test_bad_paging_settings_fail_loudly_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    import runpy

    from django.core.exceptions import ImproperlyConfigured

    import supporthub.settings as live_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        runpy.run_path(live_settings.__file__)


def test_paging_settings_default_to_pagerduty_and_send_nothing_unconfigured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import runpy

    import supporthub.settings as live_settings

    for name in (
        "PAGING_PAGERDUTY_EVENTS_URL",
        "PAGING_PAGERDUTY_ROUTING_KEY",
        "PAGING_WEBHOOK_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    found = runpy.run_path(live_settings.__file__)
    assert found["PAGING_PAGERDUTY_EVENTS_URL"] == "https://events.pagerduty.com/v2/enqueue"
    assert found["PAGING_PAGERDUTY_ROUTING_KEY"] == found["PAGING_WEBHOOK_URL"] == ""
