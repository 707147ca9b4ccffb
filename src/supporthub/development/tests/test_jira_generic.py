"""Jira deliveries (status changelog, fixVersions, version released, a key that changes) and
the generic signed format (the product's own outbound scheme)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from supporthub.access import viewer_for
from supporthub.development import samples
from supporthub.development.models import EngineeringIssue, InboundDelivery, TicketLink
from supporthub.development.services import ticket_link_issue
from supporthub.development.stages import Stage
from supporthub.development.tests.conftest import GENERIC_SECRET, SITE, Dev, jira_post, process
from supporthub.notify import webhook
from supporthub.tickets.models import Message, MessageKind, Status, Ticket

START = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def link(dev: Dev, ticket: Ticket, url: str) -> TicketLink:
    viewer = viewer_for(dev.world.alice.user)
    assert viewer is not None
    return ticket_link_issue(ticket=ticket, url=url, viewer=viewer)


def note_count(ticket: Ticket) -> int:
    return Message.objects.filter(ticket=ticket, kind=MessageKind.PROGRESS_NOTE).count()


def test_the_jira_sequence_sent_twice_adds_four_notes_and_solves_once(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket, f"{SITE}/browse/SHOP-7")
    sequence = samples.jira_sequence(SITE, issue_id="10042", key="SHOP-7", start=START)
    for number, payload in enumerate(sequence):
        assert jira_post(client, payload, delivery=f"d-{number}").status_code == 202
        assert jira_post(client, payload, delivery=f"d-{number}").status_code == 200
        process()
    assert InboundDelivery.objects.count() == 4
    assert note_count(dev.ticket) == 5
    issue = EngineeringIssue.objects.get()
    assert issue.tracker_id == "10042"  # the stable id replaced the pasted key
    assert issue.fix_versions == ["10100"]
    stages = list(TicketLink.objects.get().moves.values_list("stage", flat=True))
    assert stages == ["logged", "in_progress", "in_review", "fixed", "released"]
    dev.ticket.refresh_from_db()
    assert dev.ticket.status == Status.SOLVED


def test_a_version_released_before_the_issue_gets_it_still_solves(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket, f"{SITE}/browse/SHOP-7")
    progress, review, done, released = samples.jira_sequence(
        SITE, issue_id="10042", key="SHOP-7", start=START
    )
    for payload in (progress, released, done):
        jira_post(client, payload)
        process()
    dev.ticket.refresh_from_db()
    assert dev.ticket.status == Status.SOLVED


def test_an_older_delivery_does_not_move_the_issue_back(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket, f"{SITE}/browse/SHOP-7")
    progress, review, _, _ = samples.jira_sequence(
        SITE, issue_id="10042", key="SHOP-7", start=START
    )
    jira_post(client, review)
    jira_post(client, progress)
    process()
    assert TicketLink.objects.get().stage == Stage.IN_REVIEW
    assert "older than the state stored" in InboundDelivery.objects.latest("pk").outcome


def test_an_issue_that_moves_project_keeps_its_links(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket, f"{SITE}/browse/SHOP-7")
    progress, review, _, _ = samples.jira_sequence(
        SITE, issue_id="10042", key="SHOP-7", start=START
    )
    jira_post(client, progress)
    moved = samples.jira_issue_updated(
        SITE,
        issue_id="10042",
        key="CORE-31",
        previous="In Progress",
        status="In Review",
        at=START + timedelta(minutes=5),
    )
    moved["changelog"]["items"].append(
        {"field": "Key", "fieldtype": "jira", "fromString": "SHOP-7", "toString": "CORE-31"}
    )
    jira_post(client, moved)
    process()
    issue = EngineeringIssue.objects.get()
    assert (issue.key, issue.url) == ("CORE-31", f"{SITE}/browse/CORE-31")
    assert TicketLink.objects.get().stage == Stage.IN_REVIEW
    assert "SHOP-7 is now CORE-31" in InboundDelivery.objects.latest("pk").outcome


def test_a_wont_fix_resolution_tells_the_customer_and_leaves_it_open(dev: Dev) -> None:
    link(dev, dev.ticket, f"{SITE}/browse/SHOP-7")
    payload = samples.jira_issue_updated(
        SITE, issue_id="10042", key="SHOP-7", previous="To Do", status="Done", at=START
    )
    payload["issue"]["fields"]["resolution"] = {"id": "10001", "name": "Won't Do"}
    jira_post(Client(), payload)
    process()
    assert TicketLink.objects.get().stage == Stage.WONT_FIX
    dev.ticket.refresh_from_db()
    assert dev.ticket.status != Status.SOLVED


def test_a_jira_delivery_with_a_bad_signature_is_refused(dev: Dev) -> None:
    body = b'{"webhookEvent": "jira:issue_updated"}'
    response = Client().post(
        "/development/webhooks/jira/jira/",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature": "sha256=" + "0" * 64, "X-Atlassian-Webhook-Identifier": "1"},
    )
    assert response.status_code == 401 and "X-Hub-Signature" in response.json()["error"]
    assert not InboundDelivery.objects.exists()


def generic_post(
    client: Client, payload: Mapping[str, Any], *, delivery: str, secret: str = GENERIC_SECRET
) -> Any:
    body = webhook.encode(payload)
    headers = webhook.signed_headers(
        body, secret=secret, delivery_id=delivery, event=str(payload["event"]), now=timezone.now()
    )
    return client.post(
        "/development/webhooks/generic/ci/",
        data=body,
        content_type="application/json",
        headers=headers,
    )


def test_the_generic_format_moves_and_releases_named_issues(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket, "https://ci.example.com/bugs/BUG-900")  # its id: the last part
    update = {
        "event": "issue.updated",
        "issue": {"id": "BUG-900", "key": "BUG-900", "stage": "in_progress"},
    }
    assert generic_post(client, update, delivery="g1").status_code == 202
    released = {"event": "released", "issues": ["BUG-900"], "release": "2026.12.1"}
    assert generic_post(client, released, delivery="g2").status_code == 202
    assert generic_post(client, released, delivery="g2").status_code == 200
    process()
    dev.ticket.refresh_from_db()
    assert dev.ticket.status == Status.SOLVED
    assert list(TicketLink.objects.get().moves.values_list("stage", flat=True)) == [
        "logged",
        "in_progress",
        "released",
    ]


def test_a_generic_delivery_signed_with_another_secret_is_refused(dev: Dev) -> None:
    response = generic_post(
        Client(), {"event": "released", "issues": ["X"]}, delivery="g", secret="wrong"
    )
    assert response.status_code == 401
    assert "X-SupportHub-Signature" in response.json()["error"]


def test_a_generic_body_naming_no_stage_is_given_up_with_the_field(dev: Dev) -> None:
    generic_post(
        Client(), {"event": "issue.updated", "issue": {"id": "X", "stage": "shipped"}}, delivery="g"
    )
    process()
    row = InboundDelivery.objects.get()
    assert row.state == "failed" and "issue.stage: 'shipped' is not a stage" in row.outcome
