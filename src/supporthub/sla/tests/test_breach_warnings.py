"""Breach warnings: who is told, what moves them, what stops them, what they survive."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.sla import closures, retiming, warnings
from supporthub.sla.models import Closure
from supporthub.sla.selectors import warnings_due
from supporthub.sla.warnings import breach_scan, warning_recipients
from supporthub.staff.models import Role
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket
from supporthub.testing.world import World, viewer_of
from supporthub.tickets import services
from supporthub.tickets.conversation import ticket_add_message
from supporthub.tickets.models import AuditEntry, Channel, MessageKind, Status, Ticket
from supporthub.worker.registry import periodic_jobs

NY = ZoneInfo("America/New_York")
FRIDAY_1600 = datetime(2025, 2, 28, 16, 0, tzinfo=NY)  # Initech: Base, 08:00-18:00 New York
MONDAY_0900 = datetime(2025, 3, 3, 9, 0, tzinfo=NY)  # 75% of 4 business hours
MONDAY_1000 = datetime(2025, 3, 3, 10, 0, tzinfo=NY)  # due


def _open(world: World, severity: int = 1, at: datetime = FRIDAY_1600) -> Ticket:
    ticket = open_ticket(
        organisation=world.organisation,
        requester=world.carol,
        subject="The export fails",
        body="Details",
        severity=severity,
        channel=Channel.HUB,
        received_at=at,
    )
    Ticket.objects.filter(pk=ticket.pk).update(assignee=world.alice)
    ticket.refresh_from_db()
    return ticket


def _codes(ticket: Ticket) -> list[tuple[str, int]]:
    return [
        (e.code, e.data["point"])
        for e in AuditEntry.objects.filter(ticket=ticket, code__in=["sla.warning", "sla.breached"])
    ]


def _mails(ticket: Ticket, kind: OutboxKind) -> list[str]:
    rows = OutboxMessage.objects.filter(ticket=ticket, kind=kind)
    return sorted(rows.values_list("recipient", flat=True))


@pytest.mark.django_db
def test_open_stores_the_75_percent_instant_and_a_scan_sends_it_once(world: World) -> None:
    ticket = _open(world)
    assert ticket.sla_next_warning_at == MONDAY_0900
    assert ticket.sla_warned_point == 0
    result = breach_scan(now=MONDAY_0900)
    assert (result.due, result.warnings, result.breaches) == (1, 1, 0)
    assert breach_scan(now=MONDAY_0900 + timedelta(minutes=30)).due == 0
    ticket.refresh_from_db()
    assert (ticket.sla_warned_point, ticket.sla_next_warning_at) == (75, MONDAY_1000)
    assert _codes(ticket) == [("sla.warning", 75)]
    assert _mails(ticket, OutboxKind.SLA_WARNING) == ["alice@example.com", "amy@example.com"]
    mail = OutboxMessage.objects.filter(kind=OutboxKind.SLA_WARNING).first()
    assert mail is not None
    assert "75% of its Target Initial Response" in mail.text_body
    assert "Mon 03 Mar 2025 10:00 EST (2025-03-03T15:00:00Z)" in mail.text_body
    assert mail.headers["Auto-Submitted"] == "auto-generated"


@pytest.mark.django_db
def test_breach_of_severity_1_escalates_and_mails_the_cs_lead(world: World) -> None:
    ticket = _open(world)
    breach_scan(now=MONDAY_0900)
    result = breach_scan(now=MONDAY_1000)
    assert (result.breaches, result.escalated) == (1, 1)
    ticket.refresh_from_db()
    assert ticket.escalated_at is not None
    assert ticket.escalation_reason.startswith("Automatic: Severity 1 breached")
    assert ticket.sla_next_warning_at is None
    assert _codes(ticket) == [("sla.warning", 75), ("sla.breached", 100)]
    assert _mails(ticket, OutboxKind.ESCALATED) == ["lee@example.com"]
    escalation = AuditEntry.objects.get(ticket=ticket, code="ticket.escalated")
    assert escalation.actor is None  # the system
    assert breach_scan(now=MONDAY_1000 + timedelta(days=3)).due == 0


@pytest.mark.django_db
def test_breach_of_severity_2_does_not_escalate(world: World) -> None:
    ticket = _open(world, severity=2)
    assert ticket.first_response_due_at is not None
    result = breach_scan(now=ticket.first_response_due_at)
    assert (result.breaches, result.escalated) == (1, 0)
    ticket.refresh_from_db()
    assert ticket.escalated_at is None
    assert _mails(ticket, OutboxKind.ESCALATED) == []


@pytest.mark.django_db
def test_an_already_escalated_severity_1_breach_is_notified_without_a_second_escalation(
    world: World,
) -> None:
    ticket = _open(world)
    services.ticket_escalate(ticket=ticket, reason="Customer called", viewer=viewer_of(world.alice))
    assert _mails(ticket, OutboxKind.ESCALATED) == ["lee@example.com"]
    result = breach_scan(now=MONDAY_1000)
    assert (result.breaches, result.escalated) == (1, 0)
    assert AuditEntry.objects.filter(ticket=ticket, code="ticket.escalated").count() == 1
    assert OutboxMessage.objects.filter(kind=OutboxKind.ESCALATED).count() == 1


@pytest.mark.django_db
def test_a_hand_escalation_mails_every_active_cs_lead_once(world: World) -> None:
    second = f.staff(user__username="lena", role_codes=[Role.CS_LEAD])
    gone = f.staff(user__username="leo", role_codes=[Role.CS_LEAD])
    gone.is_active = False
    gone.save()
    ticket = _open(world, severity=3)
    services.ticket_escalate(ticket=ticket, reason="Renewal at risk", viewer=viewer_of(world.amy))
    mails = OutboxMessage.objects.filter(kind=OutboxKind.ESCALATED).order_by("recipient")
    assert [m.recipient for m in mails] == ["lee@example.com", second.user.email]
    assert "Renewal at risk" in mails[0].text_body
    assert "by Amy" in mails[0].text_body


@pytest.mark.django_db
def test_several_passed_points_send_only_the_latest(world: World) -> None:
    ticket = _open(world)
    result = breach_scan(now=MONDAY_1000 + timedelta(minutes=5))  # the scheduler was down
    assert (result.warnings, result.breaches) == (0, 1)
    assert _codes(ticket) == [("sla.breached", 100)]
    entry = AuditEntry.objects.get(ticket=ticket, code="sla.breached")
    assert entry.data["skipped"] == [75]
    assert entry.data["due_at"] == "2025-03-03T15:00:00Z"
    assert OutboxMessage.objects.filter(kind=OutboxKind.SLA_WARNING).count() == 0


@pytest.mark.django_db
def test_a_first_response_stops_the_warnings(world: World) -> None:
    ticket = _open(world)
    ticket_add_message(
        ticket=ticket,
        kind=MessageKind.PUBLIC_REPLY,
        body="Looking at it",
        author_staff=world.alice,
        at=FRIDAY_1600 + timedelta(minutes=10),
    )
    assert not warnings_due(now=MONDAY_1000).exists()
    assert breach_scan(now=MONDAY_1000 + timedelta(days=1)).due == 0
    assert _codes(ticket) == []


@pytest.mark.django_db
def test_a_solved_ticket_is_not_warned_and_a_reopened_one_is(world: World) -> None:
    ticket = _open(world)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.SOLVED)
    assert breach_scan(now=MONDAY_0900).due == 0
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.OPEN)
    assert breach_scan(now=MONDAY_0900).warnings == 1


@pytest.mark.django_db
def test_no_target_no_warning(world: World) -> None:
    # The b2b seed (000) states no response target for any severity.
    organisation = f.organisation(name="Acme", account_manager=world.amy)
    f.subscribe(organisation, policy_key="b2b-customer-success", level="customer-success")
    contact = f.add_contact(organisation, "Ann")
    ticket = open_ticket(
        organisation=organisation,
        requester=contact,
        subject="Hello",
        body="x",
        severity=1,
        channel=Channel.HUB,
        received_at=FRIDAY_1600,
    )
    assert ticket.first_response_due_at is None
    assert ticket.sla_next_warning_at is None


@pytest.mark.django_db
def test_a_closure_moves_the_warning_with_the_due_instant(world: World) -> None:
    ticket = _open(world)
    with time_machine.travel(FRIDAY_1600 + timedelta(minutes=5), tick=False):
        closures.closure_save(
            closure=Closure(
                date=date(2025, 3, 3), name="Office move", organisation=world.organisation
            )
        )
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == datetime(2025, 3, 4, 10, 0, tzinfo=NY)
    assert ticket.sla_next_warning_at == datetime(2025, 3, 4, 9, 0, tzinfo=NY)
    assert breach_scan(now=MONDAY_1000 + timedelta(hours=5)).due == 0


@pytest.mark.django_db
def test_a_severity_change_moves_the_points_not_yet_sent(world: World) -> None:
    ticket = _open(world, severity=3)  # 2 business days: due Tuesday 16:00
    assert ticket.sla_next_warning_at == datetime(2025, 3, 4, 11, 0, tzinfo=NY)  # 15 h
    with time_machine.travel(FRIDAY_1600 + timedelta(minutes=5), tick=False):
        services.ticket_change_severity(
            ticket=ticket, severity=1, reason="Production down", actor=None
        )
    ticket.refresh_from_db()
    assert ticket.sla_next_warning_at == MONDAY_0900  # moved earlier: nothing was sent yet
    breach_scan(now=MONDAY_0900)
    # Back to severity 3 after the 75% warning: the due instant moves later, so the warning
    # sent no longer holds and the new clock's points fire when reached.
    with time_machine.travel(MONDAY_0900 + timedelta(minutes=5), tick=False):
        services.ticket_change_severity(ticket=ticket, severity=3, reason="Workaround", actor=None)
    ticket.refresh_from_db()
    tuesday_1100 = datetime(2025, 3, 4, 11, 0, tzinfo=NY)
    assert (ticket.sla_warned_point, ticket.sla_next_warning_at) == (0, tuesday_1100)
    breach_scan(now=tuesday_1100)
    breach_scan(now=ticket.first_response_due_at)
    assert _codes(ticket) == [("sla.warning", 75), ("sla.warning", 75), ("sla.breached", 100)]


@pytest.mark.django_db
def test_after_a_breach_a_lower_severity_warns_and_breaches_again_on_its_own_clock(
    world: World,
) -> None:
    ticket = _open(world)  # Severity 1: due Monday 10:00
    breach_scan(now=MONDAY_1000)
    with time_machine.travel(MONDAY_1000 + timedelta(minutes=30), tick=False):
        services.ticket_change_severity(ticket=ticket, severity=3, reason="Not urgent", actor=None)
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == datetime(2025, 3, 4, 16, 0, tzinfo=NY)
    # 75% of the new target (Tuesday 11:00) is still to come; nothing already past is resent.
    assert ticket.sla_warned_point == 0
    assert ticket.sla_next_warning_at == datetime(2025, 3, 4, 11, 0, tzinfo=NY)
    breach_scan(now=ticket.sla_next_warning_at)
    breach_scan(now=ticket.first_response_due_at)
    assert _codes(ticket) == [("sla.breached", 100), ("sla.warning", 75), ("sla.breached", 100)]


@pytest.mark.django_db
def test_a_closure_added_after_a_warning_schedules_the_new_points(world: World) -> None:
    ticket = _open(world)
    breach_scan(now=MONDAY_0900)  # the 75% warning of the Monday 10:00 due instant
    with time_machine.travel(MONDAY_0900 + timedelta(minutes=10), tick=False):
        closures.closure_save(
            closure=Closure(
                date=date(2025, 3, 3), name="Office move", organisation=world.organisation
            )
        )
    ticket.refresh_from_db()
    # Monday is closed now: due Tuesday 10:00, its 75% point Tuesday 09:00 still to come.
    assert ticket.first_response_due_at == datetime(2025, 3, 4, 10, 0, tzinfo=NY)
    assert (ticket.sla_warned_point, ticket.sla_next_warning_at) == (
        0,
        datetime(2025, 3, 4, 9, 0, tzinfo=NY),
    )


@pytest.mark.django_db
def test_retime_fills_in_clocks_started_before_warnings_existed(world: World) -> None:
    ticket = _open(world)
    Ticket.objects.filter(pk=ticket.pk).update(sla_next_warning_at=None)
    result = retiming.retime_open_tickets(reason="upgrade")
    assert result.retimed == 0  # no due instant moved ...
    ticket.refresh_from_db()
    assert ticket.sla_next_warning_at == MONDAY_0900  # ... but the schedule is back
    assert not AuditEntry.objects.filter(code="sla.first_response_retimed").exists()


@pytest.mark.django_db
def test_configured_points(world: World, settings: Any) -> None:
    settings.SLA_WARNING_POINTS = (50, 90, 100)
    ticket = _open(world)  # 4 business hours: 2 h (Friday 18:00), 3.6 h (Monday 09:36)
    assert ticket.sla_next_warning_at == datetime(2025, 2, 28, 18, 0, tzinfo=NY)
    at_90 = datetime(2025, 3, 3, 9, 36, tzinfo=NY)
    for now in (ticket.sla_next_warning_at, at_90 - timedelta(seconds=1), at_90, MONDAY_1000):
        breach_scan(now=now)
    assert _codes(ticket) == [("sla.warning", 50), ("sla.warning", 90), ("sla.breached", 100)]


@pytest.mark.django_db
def test_the_region_is_its_configured_address_else_its_active_staff(
    world: World, settings: Any
) -> None:
    ticket = _open(world)
    Ticket.objects.filter(pk=ticket.pk).update(region="eu")
    ticket.refresh_from_db()
    eve = f.staff(user__username="eve")
    eve.region = "eu"
    eve.save()
    ivan = f.staff(user__username="ivan")
    ivan.region, ivan.is_active = "eu", False
    ivan.save()
    assert warning_recipients(ticket) == [
        ("alice@example.com", "assignee"),
        ("amy@example.com", "account manager"),
        ("eve@example.com", "region eu"),
    ]
    settings.SLA_REGION_ADDRESSES = {"eu": "EU-Desk@example.com"}
    assert ("eu-desk@example.com", "region eu") in warning_recipients(ticket)
    assert ("eve@example.com", "region eu") not in warning_recipients(ticket)


@pytest.mark.django_db
def test_a_crash_inside_the_claim_loses_nothing_and_sends_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = _open(world)

    def crash(**kwargs: Any) -> None:
        raise RuntimeError("killed after the mails were queued")

    monkeypatch.setattr(warnings, "audit", crash)
    assert breach_scan(now=MONDAY_0900).warnings == 0  # logged; the scan goes on
    ticket.refresh_from_db()
    retry_at = MONDAY_0900 + warnings.FAILED_RETRY
    assert (ticket.sla_warned_point, ticket.sla_next_warning_at) == (0, retry_at)
    assert not OutboxMessage.objects.filter(kind=OutboxKind.SLA_WARNING).exists()
    monkeypatch.undo()
    assert breach_scan(now=retry_at).warnings == 1
    assert breach_scan(now=retry_at).warnings == 0
    assert OutboxMessage.objects.filter(kind=OutboxKind.SLA_WARNING).count() == 2  # 2 people


@pytest.mark.django_db
def test_the_scan_command_and_the_worker_job(world: World) -> None:
    _open(world)
    out = StringIO()
    with time_machine.travel(MONDAY_1000, tick=False):
        call_command("sla", "scan", stdout=out)
    assert out.getvalue().strip() == "1 due, 0 warning(s), 1 breach(es) notified, 1 escalated"
    jobs = {job.name: job for job in periodic_jobs()}
    assert jobs["sla breach scan"].every == 30


def _load_settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    import supporthub.settings as module

    for name, value in env.items():
        monkeypatch.setitem(os.environ, name, value)
    return module


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("75", "must include 100"),
        ("75,abc,100", "'abc' is not a whole percentage"),
        ("0,100", "0 is not between 1 and 100"),
        ("75,120", "120 is not between 1 and 100"),
    ],
)
def test_bad_warning_points_are_refused(
    monkeypatch: pytest.MonkeyPatch, raw: str, message: str
) -> None:
    module = _load_settings_with(monkeypatch, SLA_WARNING_POINTS=raw)
    with pytest.raises(ImproperlyConfigured, match=f"SLA_WARNING_POINTS=.*{message}"):
        module._sla_warning_points()


def test_warning_points_are_sorted_and_deduplicated(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load_settings_with(monkeypatch, SLA_WARNING_POINTS="100, 50,75,50")
    assert module._sla_warning_points() == (50, 75, 100)


def test_bad_region_addresses_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load_settings_with(monkeypatch, SLA_REGION_ADDRESSES="us=ok@example.com,eu")
    with pytest.raises(ImproperlyConfigured, match="SLA_REGION_ADDRESSES: 'eu' is not"):
        module._sla_region_addresses()
    module = _load_settings_with(monkeypatch, SLA_REGION_ADDRESSES="us=not-an-address")
    with pytest.raises(ImproperlyConfigured, match="SLA_REGION_ADDRESSES"):
        module._sla_region_addresses()
    module = _load_settings_with(monkeypatch, SLA_REGION_ADDRESSES="us=a@example.com")
    assert module._sla_region_addresses() == {"us": "a@example.com"}


@pytest.mark.django_db
def test_a_clock_that_fails_is_retried_later_and_does_not_hold_up_the_others(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = _open(world)
    other = _open(world, at=FRIDAY_1600 + timedelta(minutes=1))
    real = warnings.warning_recipients

    def recipients(ticket: Ticket) -> Any:
        if ticket.pk == broken.pk:
            raise RuntimeError("a template error")
        return real(ticket)

    monkeypatch.setattr(warnings, "warning_recipients", recipients)
    breach_scan(now=MONDAY_1000 + timedelta(minutes=5))

    assert _codes(other) == [("sla.breached", 100)]
    assert _codes(broken) == []
    broken.refresh_from_db()
    assert broken.sla_next_warning_at == MONDAY_1000 + timedelta(minutes=5) + warnings.FAILED_RETRY
