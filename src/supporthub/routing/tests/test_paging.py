"""After-hours urgent paging (seed 000): an URGENT ticket received while no region is on duty
pages the on-call engineer of its region's rotation and notifies the CS lead, recorded on the
ticket; solving it resolves the page, a reply or an assignment acknowledges it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail

from supporthub.notify.delivery import outbox_deliver_due
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.routing import delivery, paging
from supporthub.routing.models import (
    Page,
    PageAction,
    PageDelivery,
    Rotation,
)
from supporthub.routing.tests.paging_world import (
    BETWEEN,
    NIGHT,
    ROUTING_KEY,
    US_DAY,
    codes,
    make_rotation,
    open_at,
    outbox,
)
from supporthub.routing.tests.receiver import Receiver, Reply
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket
from supporthub.testing.world import World, viewer_of
from supporthub.tickets import services as tickets
from supporthub.tickets.models import Channel, Status, Ticket, TicketType
from supporthub.tickets.opening import ticket_import


@pytest.fixture(autouse=True)
def _no_jitter(settings: Any) -> None:
    """The backoff's schedule exactly (the jitter is tested with the queue, worker.queue)."""
    settings.PAGING_BACKOFF_JITTER = 0


# -- who is paged, and when -------------------------------------------------------------------


def test_an_urgent_ticket_at_night_pages_the_eu_on_call_and_notifies_the_cs_lead(
    world: World, acme: Any, rotations: dict[str, Rotation]
) -> None:
    ticket = open_at(acme, NIGHT)
    assert ticket.region == "eu"
    page = Page.objects.get(ticket=ticket)
    assert page.rotation == rotations["eu"]
    assert page.engineer is not None and page.engineer.display_name == "Emil"
    assert codes(ticket) == ["oncall.paged", "oncall.cs_lead_notified"]
    paged = ticket.audit.get(code="oncall.paged").data
    assert paged["engineer_name"] == "Emil" and paged["rotation"] == "EU on call"
    assert paged["transports"] == ["email"]  # no PagerDuty key or webhook configured
    notified = ticket.audit.get(code="oncall.cs_lead_notified").data
    assert notified["staff"] == [world.lee.pk]
    [page_mail] = outbox(ticket, OutboxKind.PAGE)
    assert page_mail.recipient == "emil@example.com"
    assert page_mail.subject.startswith(f"PAGE [{ticket.reference}] URGENT after hours")
    assert f"/console/tickets/{ticket.pk}/" in page_mail.text_body
    assert "Tue 04 Mar 2025, 03:00 UTC" in page_mail.text_body  # Emil's zone (UTC)
    [notice] = outbox(ticket, OutboxKind.CS_LEAD_NOTICE)
    assert notice.recipient == world.lee.user.email
    assert "Emil (EU on call) has been paged." in notice.text_body
    assert "Emil (EU on call) has been paged." in notice.html_body


def test_an_urgent_ticket_while_the_us_is_on_duty_pages_nobody(
    acme: Any, rotations: dict[str, Rotation]
) -> None:
    ticket = open_at(acme, US_DAY)
    assert ticket.region == "us"
    assert not Page.objects.exists()
    assert codes(ticket) == []
    assert outbox(ticket, OutboxKind.PAGE) == outbox(ticket, OutboxKind.CS_LEAD_NOTICE) == []


def test_a_high_ticket_at_night_pages_nobody(acme: Any, rotations: dict[str, Rotation]) -> None:
    ticket = open_at(acme, NIGHT, severity=2)
    assert not Page.objects.exists()
    assert codes(ticket) == []


def test_a_ticket_routed_to_the_us_pages_the_usmake_rotation(
    world: World, acme: Any, rotations: dict[str, Rotation]
) -> None:
    ticket = open_at(acme, BETWEEN)
    assert ticket.region == "us"
    page = Page.objects.get(ticket=ticket)
    assert (page.rotation, page.engineer) == (rotations["us"], world.alice)


def test_a_weekend_and_a_holiday_on_both_sides_are_after_hours(
    acme: Any, rotations: dict[str, Rotation]
) -> None:
    saturday = open_at(acme, datetime(2025, 3, 8, 15, 0, tzinfo=UTC))  # noon nowhere on duty
    christmas = open_at(acme, datetime(2025, 12, 25, 18, 0, tzinfo=UTC))  # 10:00 LA, holiday
    assert Page.objects.filter(ticket__in=[saturday, christmas]).count() == 2


def test_with_nobody_on_call_the_cs_lead_is_still_told_and_the_ticket_says_so(
    world: World, acme: Any
) -> None:
    ticket = open_at(acme, NIGHT)  # no rotation at all
    page = Page.objects.get(ticket=ticket)
    assert (page.rotation, page.engineer) == (None, None)
    assert codes(ticket) == ["oncall.nobody_on_call", "oncall.cs_lead_notified"]
    assert outbox(ticket, OutboxKind.PAGE) == []
    [notice] = outbox(ticket, OutboxKind.CS_LEAD_NOTICE)
    assert "Nobody could be paged: no on-call rotation covers this region." in notice.text_body


def test_an_engineer_on_call_with_no_way_to_reach_them_is_not_recorded_as_paged(
    acme: Any, world: World
) -> None:
    world.alice.user.email = ""
    world.alice.user.save(update_fields=["email"])
    make_rotation("Everyone", "", "UTC", world.alice)  # no PagerDuty key, no webhook
    ticket = open_at(acme, NIGHT)
    assert codes(ticket) == ["oncall.page_unreachable", "oncall.cs_lead_notified"]
    assert ticket.audit.get(code="oncall.page_unreachable").data["engineer"] == world.alice.pk
    assert outbox(ticket, OutboxKind.PAGE) == []
    [notice] = outbox(ticket, OutboxKind.CS_LEAD_NOTICE)
    assert "has been paged" not in notice.text_body
    assert "is on call but has no email address" in notice.text_body
    assert "is on call but has no email address" in notice.html_body


def test_a_rotation_before_its_first_hand_off_has_nobody_on_call(acme: Any, world: World) -> None:
    rotation = make_rotation("EU on call", "eu", "Europe/Paris", world.alice)
    Rotation.objects.filter(pk=rotation.pk).update(starts_on=date(2025, 6, 2))
    ticket = open_at(acme, NIGHT)
    assert ticket.audit.get(code="oncall.nobody_on_call").data["rotation"] == "EU on call"


def test_a_rotation_without_a_region_catches_every_region(acme: Any, world: World) -> None:
    make_rotation("Everyone", "", "UTC", world.alice)
    ticket = open_at(acme, NIGHT)
    assert Page.objects.get(ticket=ticket).engineer == world.alice


def test_the_cloud_policy_has_no_after_hours_rule_and_pages_nobody(world: World) -> None:
    with time_machine.travel(NIGHT, tick=False):  # 22:00 in New York, outside Base hours
        ticket = open_ticket(
            organisation=world.organisation,
            requester=world.carol,
            subject="Cluster is red",
            body="",
            severity=1,
            channel=Channel.HUB,
        )
    assert ticket.policy_version.document().after_hours == ()
    assert not Page.objects.exists()


def test_without_regions_the_support_levels_hours_decide(world: World) -> None:
    # The cloud policy with an after-hours rule: Base keeps 08:00-18:00 in the customer's
    # zone, Premium is 24x7x365 and so never after hours.
    from supporthub.customers import services as customers
    from supporthub.customers.models import BillingTerm, Subscription
    from supporthub.policies.models import Policy
    from supporthub.policies.services import policy_load

    text = (f.EXAMPLES / "cloud-support.toml").read_text()
    text = text.replace('key = "cloud-support"', 'key = "cloud-paging"', 1)
    text += '\n[[after_hours]]\nseverities = [1]\nnotify = ["on_call", "cs_lead"]\n'
    policy_load(text=text, source_name="cloud-paging.toml")
    opened = {}
    for level in ("gold", "enterprise"):
        organisation = f.organisation(name=f"Org {level}", time_zone="America/New_York")
        customers.subscription_save(
            subscription=Subscription(
                organisation=organisation,
                policy=Policy.objects.get(key="cloud-paging"),
                level=level,
                term_start=date(2024, 6, 11),
                term_end=date(2030, 12, 31),
                billing_term=BillingTerm.ANNUAL,
            )
        )
        contact = f.add_contact(organisation, "Dee")
        for name, at in (("night", NIGHT), ("day", US_DAY)):
            with time_machine.travel(at, tick=False):
                opened[level, name] = open_ticket(
                    organisation=organisation,
                    requester=contact,
                    subject="Down",
                    body="",
                    severity=1,
                    channel=Channel.HUB,
                )
    paged = {key for key, ticket in opened.items() if Page.objects.filter(ticket=ticket).exists()}
    assert paged == {("gold", "night")}


def test_opening_twice_never_makes_a_second_page(acme: Any, rotations: Any) -> None:
    ticket = open_at(acme, NIGHT)
    policy = ticket.policy_version.document()
    again = paging.page_after_hours(ticket=ticket, policy=policy)
    assert again == Page.objects.get(ticket=ticket)
    assert codes(ticket) == ["oncall.paged", "oncall.cs_lead_notified"]


def test_the_page_rolls_back_with_the_ticket(acme: Any, rotations: Any) -> None:
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        open_at(acme, NIGHT)
        assert Page.objects.count() == 1
        raise RuntimeError("the request failed after opening")
    assert Page.objects.count() == OutboxMessage.objects.count() == 0


def test_the_mails_are_delivered_by_theoutbox(
    world: World, acme: Any, rotations: Any, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    open_at(acme, NIGHT)
    outbox_deliver_due()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        ["ava@" + str(acme[0].pk) + ".example", "emil@example.com", world.lee.user.email]
    )


# -- acknowledge and resolve ---------------------------------------------------------------------


def test_solving_the_ticket_resolves_the_page_after_the_trigger(
    world: World, acme: Any, rotations: dict[str, Rotation], receiver: Receiver
) -> None:
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    ticket = open_at(acme, NIGHT)
    tickets.ticket_set_status(ticket=ticket, status=Status.SOLVED, viewer=viewer_of(world.alice))
    assert codes(ticket)[-1] == "oncall.resolved"
    assert Page.objects.get().resolved_at is not None
    actions = list(PageDelivery.objects.order_by("pk").values_list("action", "state"))
    assert actions == [("trigger", "pending"), ("resolve", "pending")]
    # The resolve waits while the trigger is still on its way.
    assert delivery.paging_deliver_due(limit=1) == 1
    assert delivery.paging_deliver_due() == 1
    sent = [r.json()["event_action"] for r in receiver.accepted()]
    assert sent == ["trigger", "resolve"]
    assert {r.json()["dedup_key"] for r in receiver.accepted()} == {ticket.reference}
    [resolved_mail] = [m for m in outbox(ticket, OutboxKind.PAGE) if "RESOLVED" in m.subject]
    assert resolved_mail.recipient == "emil@example.com"
    # Closing later changes nothing: one resolve per page.
    tickets.ticket_set_status(ticket=ticket, status=Status.CLOSED, viewer=viewer_of(world.alice))
    assert PageDelivery.objects.filter(action=PageAction.RESOLVE).count() == 1


def test_a_resolve_is_not_sent_before_a_retrying_trigger(
    world: World, acme: Any, rotations: dict[str, Rotation], receiver: Receiver
) -> None:
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    receiver.script = [Reply(500)]
    with time_machine.travel(NIGHT, tick=False) as clock:
        ticket = open_at(acme, NIGHT)
        delivery.paging_deliver_due()  # the trigger fails once and waits 30 s
        tickets.ticket_set_status(
            ticket=ticket, status=Status.SOLVED, viewer=viewer_of(world.alice)
        )
        assert delivery.paging_deliver_due() == 0  # the resolve waits for the trigger
        clock.shift(timedelta(seconds=30))
        assert delivery.paging_deliver_due() == 1
        assert delivery.paging_deliver_due() == 1
    assert [r.json()["event_action"] for r in receiver.accepted()] == ["trigger", "resolve"]


def test_the_reconciler_acknowledges_and_resolves_whatever_path_moved_the_ticket(
    world: World, acme: Any, rotations: dict[str, Rotation], receiver: Receiver
) -> None:
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    ticket = open_at(acme, NIGHT)
    delivery.paging_deliver_due()
    tickets.ticket_reply(ticket=ticket, viewer=viewer_of(world.alice), body="On it.")
    assert paging.paging_sweep() == (1, 0)
    assert ticket.audit.get(code="oncall.acknowledged").data["why"] == "first response"
    # A path that does not go through ticket_set_status (development reaching production).
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    assert paging.paging_sweep() == (0, 1)
    assert paging.paging_sweep() == (0, 0)
    delivery.paging_deliver_due()
    delivery.paging_deliver_due()
    assert [r.json()["event_action"] for r in receiver.accepted()] == [
        "trigger",
        "acknowledge",
        "resolve",
    ]


def test_a_failed_trigger_of_a_resolved_page_is_not_retried(
    world: World, acme: Any, rotations: dict[str, Rotation], receiver: Receiver
) -> None:
    Rotation.objects.filter(pk=rotations["eu"].pk).update(pagerduty_routing_key=ROUTING_KEY)
    receiver.script = [Reply(400)]
    ticket = open_at(acme, NIGHT)
    delivery.paging_deliver_due()
    tickets.ticket_set_status(ticket=ticket, status=Status.SOLVED, viewer=viewer_of(world.alice))
    trigger = PageDelivery.objects.get(action=PageAction.TRIGGER)
    assert delivery.page_delivery_retry(ids=[trigger.pk]) == 0


def test_every_paging_audit_code_has_a_label() -> None:
    from supporthub.console.templatetags.console import AUDIT_LABELS

    codes = {
        "oncall.paged",
        "oncall.nobody_on_call",
        "oncall.cs_lead_notified",
        "oncall.staff_notified",
        "oncall.nobody_to_notify",
        "oncall.page_delivered",
        "oncall.page_failed",
        "oncall.acknowledged",
        "oncall.resolved",
    }
    assert codes <= set(AUDIT_LABELS)


def test_an_assignment_by_a_person_acknowledges_the_page(
    world: World, acme: Any, rotations: dict[str, Rotation]
) -> None:
    ticket = open_at(acme, NIGHT)
    assert paging.paging_sweep() == (0, 0)
    tickets.ticket_assign(ticket=ticket, assignee=world.alice, viewer=viewer_of(world.alice))
    assert paging.paging_sweep() == (1, 0)
    assert ticket.audit.get(code="oncall.acknowledged").data["why"] == "assigned"
    assert Page.objects.get().acknowledged_at is not None


def test_imported_history_pages_nobody(world: World, acme: Any, rotations: Any) -> None:
    organisation, ava = acme
    ticket = ticket_import(
        organisation=organisation,
        requester=ava,
        subject="Old outage",
        body="From the old helpdesk.",
        severity=1,
        type=TicketType.INCIDENT,
        channel=Channel.HUB,
        opened_at=NIGHT,
        first_response_at=None,
        status=Status.OPEN,
        external_id="OLD-7",
        viewer=viewer_of(world.alice),
    )
    assert not Page.objects.filter(ticket=ticket).exists()


def test_the_console_shows_the_page_on_the_ticket(
    world: World, acme: Any, rotations: dict[str, Rotation]
) -> None:
    from django.urls import reverse

    from supporthub.console.tests.helpers import client_for

    ticket = open_at(acme, NIGHT)
    html = client_for(world.alice).get(reverse("console:ticket", args=[ticket.pk]))
    text = html.content.decode()
    assert "On-call engineer paged (after hours)" in text
    assert "Emil (EU on call) by email" in text
    assert "CS lead notified (after hours)" in text and "Lee" in text


def test_the_hours_follow_daylight_saving_in_each_region(
    acme: Any, rotations: dict[str, Rotation]
) -> None:
    # 16:30 UTC: 08:30 in Los Angeles in February (PST, after hours: pages), 09:30 on
    # 17 March (PDT since the 9th, on duty: pages nobody); Paris has closed at 16:00 UTC.
    winter = open_at(acme, datetime(2025, 2, 18, 16, 30, tzinfo=UTC))
    summer = open_at(acme, datetime(2025, 3, 17, 16, 30, tzinfo=UTC))
    assert Page.objects.filter(ticket=winter).exists()
    assert not Page.objects.filter(ticket=summer).exists()
