"""ticket_open as decide, write, side effects: refusals write nothing, an entitlement in hand
is not read again, imported history skips the channel rule; audit_many writes in one INSERT."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from supporthub.customers.selectors import entitlement_on, local_date
from supporthub.testing.world import World
from supporthub.tickets.audit import audit_entry, audit_many
from supporthub.tickets.models import AuditEntry, Channel, Ticket
from supporthub.tickets.opening import TicketRequest, ticket_decide, ticket_open

AT = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday, business hours in New York


def _request(world: World, **changes: object) -> TicketRequest:
    fields: dict[str, object] = {
        "organisation": world.organisation,
        "requester": world.carol,
        "subject": "  Cluster is red  ",
        "body": "Since the upgrade.",
        "severity": 2,
        "channel": Channel.HUB,
        "received_at": AT,
    }
    fields.update(changes)
    return TicketRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.django_db
def test_the_decision_writes_nothing_and_refusals_come_before_any_write(world: World) -> None:
    with CaptureQueriesContext(connection) as captured:
        opening = ticket_decide(request=_request(world))
        with pytest.raises(ValidationError) as refused:
            ticket_decide(request=_request(world, severity=9))
        with pytest.raises(ValidationError):
            ticket_decide(request=_request(world, requester=world.olga))
        with pytest.raises(ValidationError):
            ticket_decide(request=_request(world, channel=Channel.API))  # API accepts 3 only
    assert "severity" in refused.value.message_dict
    assert not [q for q in captured.captured_queries if not q["sql"].startswith("SELECT")]
    assert opening.ticket.pk is None and opening.ticket.subject == "Cluster is red"
    assert opening.ticket.first_response_due_at is not None
    assert opening.asked == 2 and opening.page_roles == ()
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_an_entitlement_in_hand_is_not_read_again(world: World) -> None:
    organisation = world.organisation
    entitlement = entitlement_on(organisation=organisation, on=local_date(organisation, AT))
    assert entitlement is not None
    with CaptureQueriesContext(connection) as captured:
        ticket = ticket_open(request=_request(world), entitlement=entitlement)
    assert not [q for q in captured.captured_queries if "customers_subscription" in q["sql"]]
    assert ticket.subscription_id == entitlement.subscription.pk
    other = entitlement_on(
        organisation=world.other_organisation, on=local_date(world.other_organisation, AT)
    )
    with pytest.raises(ValueError, match="not Initech's"):
        ticket_open(request=_request(world), entitlement=other)


@pytest.mark.django_db
def test_the_opening_writes_its_audit_entries_in_one_insert(world: World) -> None:
    with CaptureQueriesContext(connection) as captured:
        ticket = ticket_open(request=_request(world, channel=Channel.EMAIL), acknowledge=False)
    inserts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert [sql.split()[2] for sql in inserts] == ['"tickets_ticket"', '"tickets_auditentry"']
    assert ticket.severity == 3  # email forces 3
    codes = list(ticket.audit.values_list("code", flat=True))
    assert codes == ["ticket.opened", "ticket.severity_forced_by_channel"]


@pytest.mark.django_db
def test_imported_history_takes_no_channel_rule(world: World) -> None:
    ticket = ticket_open(request=_request(world, channel=Channel.EMAIL, severity=1), imported=True)
    assert ticket.severity == 1
    assert list(ticket.audit.values_list("code", flat=True)) == ["ticket.opened"]


@pytest.mark.django_db
def test_audit_many_writes_in_the_order_given_in_one_statement(world: World) -> None:
    ticket = ticket_open(request=_request(world), acknowledge=False)
    entries = [audit_entry(ticket=ticket, code=f"test.{n}", at=AT, n=n) for n in range(3)]
    with CaptureQueriesContext(connection) as captured:
        written = audit_many(entries)
    assert len(captured.captured_queries) == 1
    assert all(entry.pk is not None for entry in written)
    assert [e.pk for e in written] == sorted(e.pk for e in written)
    stored = AuditEntry.objects.filter(ticket=ticket, code__startswith="test.").order_by("pk")
    assert [(e.code, e.data) for e in stored] == [(f"test.{n}", {"n": n}) for n in range(3)]
    assert audit_many([]) == []
