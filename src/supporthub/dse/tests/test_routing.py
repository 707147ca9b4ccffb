"""New cases of a covered subscription go to the DSE inside their Available Hours and under
the Monthly Limit, on every channel; otherwise to normal routing with an audit entry saying
why and when the DSE is next available. A customer's message on a case the DSE holds, outside
those hours, is covered by normal routing meanwhile."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from supporthub.customers.models import BillingTerm, Subscription
from supporthub.dse.models import AbsenceKind, Coverage
from supporthub.dse.services import absence_add
from supporthub.dse.tests.world import DseWorld, open_case
from supporthub.dse.timelog import time_entry_log
from supporthub.testing import factories as f
from supporthub.tickets.conversation import ticket_add_message
from supporthub.tickets.models import AuditEntry, Channel, MessageKind, Ticket
from supporthub.tickets.opening import TicketRequest, ticket_open

TUESDAY_0900_LA = datetime(2026, 12, 8, 17, 0, tzinfo=UTC)  # 09:00 PST, 18:00 in Berlin


def _dse_entry(ticket: Ticket) -> AuditEntry:
    return AuditEntry.objects.get(ticket=ticket, code__startswith="dse.")


@pytest.mark.django_db
@pytest.mark.parametrize("channel", [Channel.HUB, Channel.EMAIL, Channel.API, Channel.VOICEMAIL])
def test_a_case_inside_available_hours_goes_to_the_dse_on_every_channel(
    dse: DseWorld, channel: Channel
) -> None:
    ticket = open_case(dse, TUESDAY_0900_LA, channel=channel)
    assert ticket.assignee == dse.dora
    entry = _dse_entry(ticket)
    assert entry.code == "dse.assigned"
    assert entry.data["reason"] == "available" and entry.data["next_available_at"] is None
    assert entry.data["engagement"] == dse.engagement.pk


@pytest.mark.django_db
@pytest.mark.parametrize("channel", [Channel.HUB, Channel.EMAIL, Channel.API, Channel.VOICEMAIL])
def test_a_case_at_1700_is_outside_and_waits_for_nobody(dse: DseWorld, channel: Channel) -> None:
    # 17:00 PST is the end of the half-open window: outside. Normal routing takes it.
    ticket = open_case(dse, datetime(2026, 12, 9, 1, 0, tzinfo=UTC), channel=channel)
    assert ticket.assignee is None
    entry = _dse_entry(ticket)
    assert entry.code == "dse.overflow"
    assert entry.data["reason"] == "outside_available_hours"
    assert entry.data["next_available_at"] == "2026-12-09T17:00:00Z"


@pytest.mark.django_db
def test_the_engineers_holidays_count_not_the_customers(dse: DseWorld) -> None:
    # Thanksgiving and the day after are California holidays, not German ones.
    ticket = open_case(dse, datetime(2026, 11, 26, 18, 0, tzinfo=UTC))
    entry = _dse_entry(ticket)
    assert (entry.code, entry.data["next_available_at"]) == ("dse.overflow", "2026-11-30T17:00:00Z")
    # 3 October (German Unity Day) is a working day for Dora: a Monday in 2026? No: Saturday.
    # 6 April 2026 (Easter Monday in Germany) is.
    assert open_case(dse, datetime(2026, 4, 6, 16, 0, tzinfo=UTC)).assignee == dse.dora


@pytest.mark.django_db
def test_absences_and_company_holidays_of_the_engineers_place_close_available_hours(
    dse: DseWorld,
) -> None:
    absence_add(
        kind=AbsenceKind.TIME_OFF, engineer=dse.dora, start=date(2026, 12, 8), end=date(2026, 12, 9)
    )
    absence_add(
        kind=AbsenceKind.COMPANY_HOLIDAY,
        holiday_country="US",
        holiday_subdivision="CA",
        start=date(2026, 12, 10),
        end=date(2026, 12, 10),
    )
    # A company holiday of another place does not touch Dora.
    absence_add(
        kind=AbsenceKind.COMPANY_HOLIDAY,
        holiday_country="DE",
        start=date(2026, 12, 11),
        end=date(2026, 12, 11),
    )
    entry = _dse_entry(open_case(dse, TUESDAY_0900_LA))
    assert entry.data["next_available_at"] == "2026-12-11T17:00:00Z"


@pytest.mark.django_db
def test_the_monthly_limit_is_checked_first_and_equal_hours_reach_it(dse: DseWorld) -> None:
    first = open_case(dse, TUESDAY_0900_LA)
    time_entry_log(ticket=first, engineer=dse.dora, minutes=24 * 60, on=date(2026, 12, 1))
    almost = open_case(dse, TUESDAY_0900_LA)
    assert almost.assignee == dse.dora  # 24 of 25 hours
    time_entry_log(ticket=first, engineer=dse.dora, minutes=60, on=date(2026, 12, 2))
    night = open_case(dse, datetime(2026, 12, 9, 6, 0, tzinfo=UTC))  # outside, and at the limit
    entry = _dse_entry(night)
    assert (entry.code, entry.data["reason"]) == ("dse.overflow", "monthly_limit_reached")
    assert entry.data["next_available_at"] is None and night.assignee is None
    # Next month the limit starts again (the organisation's month: Berlin's 1 January).
    january = open_case(dse, datetime(2027, 1, 4, 17, 0, tzinfo=UTC))
    assert january.assignee is None  # the engagement ended on 31 December: no DSE at all
    assert not AuditEntry.objects.filter(ticket=january, code__startswith="dse.").exists()


@pytest.mark.django_db
def test_a_case_of_a_subscription_the_engagement_does_not_cover_is_not_routed(
    dse: DseWorld,
) -> None:
    globex = dse.world.other_organisation
    Subscription.objects.filter(pk=dse.subscription.pk).update(term_end=date(2026, 11, 30))
    f.subscribe(
        globex,
        level="platinum",
        term_start=date(2026, 12, 1),
        term_end=date(2027, 11, 30),
        billing_term=BillingTerm.ANNUAL,
    )
    ticket = open_case(dse, TUESDAY_0900_LA)
    assert ticket.assignee is None
    assert not AuditEntry.objects.filter(ticket=ticket, code__startswith="dse.").exists()


@pytest.mark.django_db
def test_only_a_covered_subscription_reads_the_engagement_three_statements(
    dse: DseWorld,
) -> None:
    def plain_case() -> Ticket:
        return ticket_open(
            request=TicketRequest(
                organisation=dse.world.organisation,
                requester=dse.world.carol,
                subject="Plain",
                body="",
                severity=3,
                channel=Channel.HUB,
                received_at=TUESDAY_0900_LA,
            )
        )

    open_case(dse, TUESDAY_0900_LA)  # caches warm
    plain_case()
    with CaptureQueriesContext(connection) as covered:
        open_case(dse, TUESDAY_0900_LA)
    with CaptureQueriesContext(connection) as plain:
        plain_case()
    extra = [q["sql"] for q in covered.captured_queries if 'FROM "dse_' in q["sql"]]
    assert len(extra) == 3, extra
    # The covered case's dse.assigned entry goes in the same INSERT as its other entries.
    assert len(covered.captured_queries) == len(plain.captured_queries) + 3
    assert not [q for q in plain.captured_queries if 'FROM "dse_' in q["sql"]]


@pytest.mark.django_db
def test_a_customer_message_outside_available_hours_is_covered_and_the_case_stays_the_dses(
    dse: DseWorld,
) -> None:
    ticket = open_case(dse, TUESDAY_0900_LA)
    night = datetime(2026, 12, 9, 6, 0, tzinfo=UTC)  # 22:00 in Los Angeles
    ticket_add_message(
        ticket=ticket,
        kind=MessageKind.PUBLIC_REPLY,
        body="Now the whole cluster is down.",
        author_contact=dse.world.olga,
        at=night,
    )
    ticket.refresh_from_db()
    assert ticket.assignee == dse.dora
    coverage = Coverage.objects.get(ticket=ticket)
    assert coverage.reason == "outside_available_hours"
    assert coverage.until == datetime(2026, 12, 9, 17, 0, tzinfo=UTC)
    entry = AuditEntry.objects.get(ticket=ticket, code="dse.covered")
    assert entry.data["next_available_at"] == "2026-12-09T17:00:00Z"
    # Inside Available Hours, nobody covers.
    ticket_add_message(
        ticket=ticket,
        kind=MessageKind.PUBLIC_REPLY,
        body="Back to yellow.",
        author_contact=dse.world.olga,
        at=datetime(2026, 12, 9, 18, 0, tzinfo=UTC),
    )
    assert Coverage.objects.filter(ticket=ticket).count() == 1


@pytest.mark.django_db
def test_phone_cannot_open_cases_under_the_cloud_policy_dse_or_not(dse: DseWorld) -> None:
    with pytest.raises(ValidationError):
        open_case(dse, TUESDAY_0900_LA, channel=Channel.PHONE)
