"""The spec's worked examples, end to end through tickets (seed 003 policy)."""

from __future__ import annotations

from datetime import date, datetime
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from supporthub.customers import services as customers
from supporthub.customers.models import Organisation
from supporthub.policies import services as policies
from supporthub.sla import closures
from supporthub.sla.models import Closure
from supporthub.sla.selectors import first_response_state
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket
from supporthub.testing.world import World
from supporthub.tickets import services
from supporthub.tickets.conversation import ticket_add_message
from supporthub.tickets.models import AuditEntry, Channel, MessageKind, Ticket

NY = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def _org(level: str, *, zone: str = "America/New_York", **kwargs: object) -> Organisation:
    organisation = f.organisation(time_zone=zone, **kwargs)
    f.subscribe(organisation, level=level)
    f.add_contact(organisation, "Requester")
    return organisation


def _open(organisation: Organisation, severity: int, at: datetime, **kwargs: object) -> Ticket:
    return open_ticket(
        organisation=organisation,
        requester=organisation.support_contacts.first(),
        subject="Something is wrong",
        body="Details",
        severity=severity,
        channel=kwargs.pop("channel", Channel.HUB),  # type: ignore[arg-type]
        received_at=at,
    )


def _local(ticket: Ticket, zone: ZoneInfo = NY) -> datetime:
    assert ticket.first_response_due_at is not None
    return ticket.first_response_due_at.astimezone(zone).replace(tzinfo=None)


@pytest.mark.django_db
def test_base_one_business_day_opened_monday_0800_is_due_monday_1800() -> None:
    ticket = _open(_org("gold"), 2, datetime(2025, 3, 3, 8, 0, tzinfo=NY))
    assert _local(ticket) == datetime(2025, 3, 3, 18, 0)


@pytest.mark.django_db
def test_base_four_business_hours_wait_for_the_next_opening() -> None:
    ticket = _open(_org("gold"), 1, datetime(2025, 3, 7, 16, 0, tzinfo=NY))  # Friday
    assert _local(ticket) == datetime(2025, 3, 10, 10, 0)  # Monday


@pytest.mark.django_db
def test_base_two_business_days_skip_the_weekend() -> None:
    ticket = _open(_org("gold"), 3, datetime(2025, 3, 7, 17, 0, tzinfo=NY))  # Friday 17:00
    assert _local(ticket) == datetime(2025, 3, 11, 17, 0)  # 1 h Fri + 10 h Mon + 9 h Tue


@pytest.mark.django_db
def test_premium_thirty_minutes_is_plain_elapsed_time_across_midnight() -> None:
    ticket = _open(_org("enterprise"), 1, datetime(2025, 3, 8, 23, 50, tzinfo=NY))  # Saturday
    assert _local(ticket) == datetime(2025, 3, 9, 0, 20)


@pytest.mark.django_db
def test_premium_one_business_day_counts_only_business_days() -> None:
    ticket = _open(_org("enterprise"), 3, datetime(2025, 3, 7, 15, 0, tzinfo=NY))  # Friday
    assert _local(ticket) == datetime(2025, 3, 10, 15, 0)  # Monday


@pytest.mark.django_db
def test_national_holiday_of_the_policy_country_is_not_a_business_day() -> None:
    # 4 July 2025 is a Friday and a US holiday; the policy's holiday country is US.
    ticket = _open(_org("gold"), 2, datetime(2025, 7, 3, 17, 0, tzinfo=NY))
    assert _local(ticket) == datetime(2025, 7, 7, 17, 0)


@pytest.mark.django_db
def test_organisation_holiday_override_replaces_the_policy_country() -> None:
    organisation = _org("gold", holiday_country="GB")
    ticket = _open(organisation, 2, datetime(2025, 7, 3, 17, 0, tzinfo=NY))
    assert _local(ticket) == datetime(2025, 7, 4, 17, 0)


@pytest.mark.django_db
def test_business_hours_are_counted_in_the_order_form_zone() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    organisation = _org("gold", zone="Asia/Kolkata", country="IN")
    ticket = _open(organisation, 1, datetime(2025, 3, 3, 16, 0, tzinfo=kolkata))
    assert _local(ticket, kolkata) == datetime(2025, 3, 4, 10, 0)


@pytest.mark.django_db
def test_email_ticket_is_forced_to_severity_3_with_an_audit_entry() -> None:
    organisation = _org("enterprise")
    ticket = _open(organisation, 1, datetime(2025, 3, 3, 9, 0, tzinfo=NY), channel=Channel.EMAIL)
    assert ticket.severity == 3
    entry = AuditEntry.objects.get(ticket=ticket, code="ticket.severity_forced_by_channel")
    assert entry.data == {"channel": "email", "requested": 1, "severity": 3}


@pytest.mark.django_db
def test_internal_notes_automatic_acknowledgements_and_customer_replies_do_not_stop_the_clock(
    world: World,
) -> None:
    at = datetime(2025, 3, 3, 9, 0, tzinfo=NY)
    ticket = _open(world.organisation, 1, at)
    ticket_add_message(
        ticket=ticket, kind=MessageKind.AUTO_ACKNOWLEDGEMENT, body="We got it", at=at
    )
    ticket_add_message(
        ticket=ticket, kind=MessageKind.INTERNAL_NOTE, body="looking", author_staff=world.alice
    )
    ticket_add_message(
        ticket=ticket, kind=MessageKind.PUBLIC_REPLY, body="more info", author_contact=world.carol
    )
    ticket.refresh_from_db()
    assert ticket.first_response_at is None
    assert ticket.first_response_status == "pending"


@pytest.mark.django_db
def test_first_public_staff_reply_before_due_is_met_and_later_replies_change_nothing(
    world: World,
) -> None:
    ticket = _open(world.organisation, 1, datetime(2025, 3, 3, 9, 0, tzinfo=NY))
    reply_at = datetime(2025, 3, 3, 12, 59, tzinfo=NY)
    ticket_add_message(
        ticket=ticket,
        kind=MessageKind.PUBLIC_REPLY,
        body="On it",
        author_staff=world.alice,
        at=reply_at,
    )
    ticket_add_message(
        ticket=ticket,
        kind=MessageKind.PUBLIC_REPLY,
        body="Still on it",
        author_staff=world.alice,
        at=datetime(2025, 3, 4, 12, 0, tzinfo=NY),
    )
    ticket.refresh_from_db()
    assert ticket.first_response_at == reply_at
    assert ticket.first_response_status == "met"
    assert AuditEntry.objects.filter(ticket=ticket, code="sla.first_response_met").count() == 1


@pytest.mark.django_db
def test_first_public_staff_reply_after_due_is_breached(world: World) -> None:
    ticket = _open(world.organisation, 1, datetime(2025, 3, 3, 9, 0, tzinfo=NY))
    ticket_add_message(
        ticket=ticket,
        kind=MessageKind.PUBLIC_REPLY,
        body="Sorry",
        author_staff=world.alice,
        at=datetime(2025, 3, 3, 13, 0, 1, tzinfo=NY),
    )
    ticket.refresh_from_db()
    assert ticket.first_response_status == "breached"


@pytest.mark.django_db
def test_a_running_clock_past_due_reads_as_breached(world: World) -> None:
    ticket = _open(world.organisation, 1, datetime(2025, 3, 3, 9, 0, tzinfo=NY))
    with time_machine.travel(datetime(2025, 3, 3, 12, 0, tzinfo=NY)):
        assert first_response_state(ticket) == "pending"
    with time_machine.travel(datetime(2025, 3, 3, 13, 1, tzinfo=NY)):
        assert first_response_state(ticket) == "breached"


@pytest.mark.django_db
def test_severity_change_before_first_response_rederives_from_receipt(world: World) -> None:
    received = datetime(2025, 3, 3, 9, 0, tzinfo=NY)
    ticket = _open(world.organisation, 3, received)  # 9 h Mon + 10 h Tue + 1 h Wed
    assert _local(ticket) == datetime(2025, 3, 5, 9, 0)
    ticket = services.ticket_change_severity(
        ticket=ticket, severity=1, reason="Production is down", actor=world.alice.user
    )
    assert _local(ticket) == datetime(2025, 3, 3, 13, 0)
    entry = AuditEntry.objects.get(ticket=ticket, code="sla.first_response_rederived")
    assert entry.data["due_at"] == "2025-03-03T18:00:00Z"
    assert entry.data["received_at"] == "2025-03-03T14:00:00Z"
    assert AuditEntry.objects.filter(ticket=ticket, code="ticket.severity_changed").exists()


@pytest.mark.django_db
def test_severity_change_after_first_response_keeps_the_recorded_clock(world: World) -> None:
    ticket = _open(world.organisation, 3, datetime(2025, 3, 3, 9, 0, tzinfo=NY))
    ticket_add_message(
        ticket=ticket, kind=MessageKind.PUBLIC_REPLY, body="Hi", author_staff=world.alice
    )
    due = Ticket.objects.get(pk=ticket.pk).first_response_due_at
    ticket = services.ticket_change_severity(ticket=ticket, severity=1, reason="worse", actor=None)
    assert ticket.first_response_due_at == due
    assert not AuditEntry.objects.filter(code="sla.first_response_rederived").exists()


@pytest.mark.django_db
def test_severity_change_needs_a_reason_and_a_known_severity(world: World) -> None:
    ticket = _open(world.organisation, 3, datetime(2025, 3, 3, 9, 0, tzinfo=NY))
    with pytest.raises(ValidationError) as exc:
        services.ticket_change_severity(ticket=ticket, severity=1, reason=" ", actor=None)
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.ticket_change_severity(ticket=ticket, severity=7, reason="x", actor=None)
    assert "severity" in exc.value.message_dict


@pytest.mark.django_db
def test_adding_a_closure_retimes_the_open_tickets_of_that_holiday_country() -> None:
    us_org = _org("gold")
    gb_org = _org("gold", holiday_country="GB")
    received = datetime(2025, 3, 6, 17, 0, tzinfo=NY)  # Thursday 17:00
    affected = _open(us_org, 2, received)
    untouched = _open(gb_org, 2, received)
    assert _local(affected) == datetime(2025, 3, 7, 17, 0)

    result = closures.closure_save(
        closure=Closure(date=date(2025, 3, 7), name="Company day", holiday_country="US")
    )

    assert (result.examined, result.retimed) == (1, 1)
    affected.refresh_from_db()
    untouched.refresh_from_db()
    assert _local(affected) == datetime(2025, 3, 10, 17, 0)
    assert _local(untouched) == datetime(2025, 3, 7, 17, 0)
    entry = AuditEntry.objects.get(ticket=affected, code="sla.first_response_retimed")
    assert entry.data["previous_due_at"] == "2025-03-07T22:00:00Z"
    assert entry.data["due_at"] == "2025-03-10T21:00:00Z"

    closures.closure_delete(closure=Closure.objects.get())
    affected.refresh_from_db()
    assert _local(affected) == datetime(2025, 3, 7, 17, 0)


@pytest.mark.django_db
def test_answered_tickets_are_never_retimed(world: World) -> None:
    ticket = _open(world.organisation, 2, datetime(2025, 3, 6, 17, 0, tzinfo=NY))
    ticket_add_message(
        ticket=ticket, kind=MessageKind.PUBLIC_REPLY, body="Hi", author_staff=world.alice
    )
    before = Ticket.objects.get(pk=ticket.pk).first_response_due_at
    result = closures.closure_save(
        closure=Closure(date=date(2025, 3, 7), name="Company day", holiday_country="US")
    )
    assert result.retimed == 0
    assert Ticket.objects.get(pk=ticket.pk).first_response_due_at == before


@pytest.mark.django_db
def test_no_subscription_in_force_refuses_the_ticket() -> None:
    organisation = f.organisation()
    f.subscribe(
        organisation, level="gold", term_start=date(2025, 1, 1), term_end=date(2025, 12, 31)
    )
    with pytest.raises(ValidationError, match="no subscription in force"):
        open_ticket(
            organisation=organisation,
            requester=None,
            subject="x",
            body="",
            severity=3,
            channel=Channel.HUB,
            received_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        )


@pytest.mark.django_db
def test_changing_the_organisation_zone_retimes_its_open_tickets() -> None:
    organisation = _org("gold")
    ticket = _open(organisation, 3, datetime(2025, 3, 3, 8, tzinfo=NY))
    assert ticket.first_response_due_at == datetime(2025, 3, 4, 18, tzinfo=NY)
    organisation.time_zone = "Europe/Paris"
    result = customers.organisation_save(organisation=organisation)
    assert result.retimed == 1
    ticket.refresh_from_db()
    # Monday 14:00 Paris: 4 hours left Monday, 10 Tuesday, 6 Wednesday.
    assert ticket.first_response_due_at == datetime(2025, 3, 5, 14, tzinfo=ZoneInfo("Europe/Paris"))
    entry = AuditEntry.objects.get(ticket=ticket, code="sla.first_response_retimed")
    assert "time_zone America/New_York -> Europe/Paris" in entry.data["reason"]
    assert ticket.version == 2


@pytest.mark.django_db
def test_saving_an_organisation_without_calendar_changes_retimes_nothing() -> None:
    organisation = _org("gold")
    _open(organisation, 3, datetime(2025, 3, 3, 8, tzinfo=NY))
    organisation.name = "Renamed"
    assert customers.organisation_save(organisation=organisation).retimed == 0
    assert not AuditEntry.objects.filter(code="sla.first_response_retimed").exists()


@pytest.mark.django_db
def test_a_new_policy_version_retimes_open_tickets_received_since_it_took_effect() -> None:
    from supporthub.policies.services import policy_load
    from supporthub.testing.factories import EXAMPLES

    organisation = _org("gold")
    before = _open(organisation, 3, datetime(2025, 2, 28, 8, tzinfo=NY))
    after = _open(organisation, 3, datetime(2025, 3, 3, 8, tzinfo=NY))
    assert after.sla_next_warning_at == datetime(2025, 3, 4, 13, tzinfo=NY)  # 75% of 20 h
    text = (EXAMPLES / "cloud-support.toml").read_text()
    draft = text.replace("effective_date = 2024-06-11", "effective_date = 2025-03-01").replace(
        'base = { 1 = "4 business hours", 2 = "1 business day", 3 = "2 business days" }',
        'base = { 1 = "4 business hours", 2 = "1 business day", 3 = "1 business day" }',
    )
    assert draft.count("2025-03-01") == 1 and draft != text
    version, created = policy_load(text=draft, source_name="cloud-2025.toml")
    assert created
    result = policies.policy_version_adopt(version=version)
    assert result.retimed == 1
    after.refresh_from_db()
    before.refresh_from_db()
    assert after.policy_version == version
    assert _local(after) == datetime(2025, 3, 3, 18)
    assert after.sla_next_warning_at == datetime(2025, 3, 3, 15, 30, tzinfo=NY)  # of 10 h
    assert before.policy_version != version
    assert _local(before) == datetime(2025, 3, 3, 18)  # Friday + 2 business days, unchanged
    entry = AuditEntry.objects.get(ticket=after, code="sla.policy_version_adopted")
    assert entry.data["policy_version"] == version.pk


ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:1
SUMMARY:Company offsite
DTSTART;VALUE=DATE:20250304
DTEND;VALUE=DATE:20250305
END:VEVENT
END:VCALENDAR
"""


@pytest.mark.django_db
def test_icalendar_closures_import_retimes_once_and_is_idempotent(tmp_path: Path) -> None:
    from django.core.management import call_command

    organisation = _org("gold")
    ticket = _open(organisation, 3, datetime(2025, 3, 3, 8, tzinfo=NY))
    assert _local(ticket) == datetime(2025, 3, 4, 18)
    path = tmp_path / "closures.ics"
    path.write_bytes(ICS)
    out = StringIO()
    call_command(
        "sla",
        "closures-import",
        str(path),
        "--organisation",
        organisation.name,
        "--from",
        "2025-01-01",
        "--to",
        "2025-12-31",
        stdout=out,
    )
    assert "1 closure(s) added, 0 already there" in out.getvalue()
    ticket.refresh_from_db()
    assert _local(ticket) == datetime(2025, 3, 5, 18)  # Tuesday closed: Monday + Wednesday
    again = closures.closures_import_ical(
        data=ICS, start=date(2025, 1, 1), end=date(2025, 12, 31), organisation=organisation
    )
    assert (again.added, again.already_there) == (0, 1)


@pytest.mark.django_db
def test_a_broken_icalendar_file_adds_nothing(tmp_path: Path) -> None:
    from django.core.management import CommandError, call_command

    path = tmp_path / "broken.ics"
    path.write_bytes(ICS.replace(b"DTSTART;VALUE=DATE:20250304\n", b""))
    with pytest.raises(CommandError, match=r"broken.ics: iCalendar event 1 \(Company offsite\)"):
        call_command("sla", "closures-import", str(path), "--holiday-country", "US")
    assert not Closure.objects.exists()
