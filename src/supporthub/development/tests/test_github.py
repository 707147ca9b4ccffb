"""GitHub deliveries end to end: signed, stored, de-duplicated, processed once on the queue,
a customer-visible note per stage move, the deployment to production solving the ticket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from supporthub.access import viewer_for
from supporthub.development import samples
from supporthub.development.models import DeliveryState, InboundDelivery, NoteTemplate, TicketLink
from supporthub.development.services import ticket_link_issue
from supporthub.development.stages import Stage
from supporthub.development.tests.conftest import REPO, Dev, github_post, process
from supporthub.notify.models import OutboxKind, OutboxMessage
from supporthub.testing.tickets import open_ticket
from supporthub.tickets.models import Channel, Message, MessageKind, Status, Ticket

START = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def link(dev: Dev, ticket: Ticket, url: str = f"https://github.com/{REPO}/issues/42") -> TicketLink:
    viewer = viewer_for(dev.world.alice.user)
    assert viewer is not None
    return ticket_link_issue(ticket=ticket, url=url, viewer=viewer)


def notes(ticket: Ticket) -> list[str]:
    return list(
        Message.objects.filter(ticket=ticket, kind=MessageKind.PROGRESS_NOTE)
        .order_by("pk")
        .values_list("body", flat=True)
    )


def test_the_sequence_sent_twice_adds_four_notes_and_solves_the_ticket_once(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket)
    assert len(notes(dev.ticket)) == 1  # "logged"
    for event, payload in samples.github_sequence(REPO, 42, start=START):
        first = github_post(client, event, payload, delivery=f"{event}-{len(notes(dev.ticket))}")
        again = github_post(client, event, payload, delivery=f"{event}-{len(notes(dev.ticket))}")
        assert first.status_code == 202, first.content
        assert again.status_code == 200 and again.json()["duplicate"] is True
        process()
    assert InboundDelivery.objects.count() == 4
    assert set(InboundDelivery.objects.values_list("state", flat=True)) == {DeliveryState.SENT}
    texts = notes(dev.ticket)
    assert len(texts) == 5
    assert "accepted" in texts[1] and "in review" in texts[2] and "waits for the next" in texts[3]
    assert "released to production" in texts[4]
    dev.ticket.refresh_from_db()
    assert dev.ticket.status == Status.SOLVED
    moves = list(TicketLink.objects.get().moves.values_list("stage", flat=True))
    assert moves == ["logged", "accepted", "in_review", "fixed", "released"]
    mail = list(OutboxMessage.objects.filter(ticket=dev.ticket).values_list("kind", flat=True))
    assert mail.count(OutboxKind.PROGRESS_NOTE) == 4  # logged, accepted, in review, fixed
    assert mail.count(OutboxKind.STATUS_CHANGED) == 1  # the release note, solving it
    solved = OutboxMessage.objects.get(ticket=dev.ticket, kind=OutboxKind.STATUS_CHANGED)
    assert texts[4] in solved.text_body  # the release note is the mail that says it is solved
    assert (
        solved.headers["In-Reply-To"]
        == f"<sh-{dev.ticket.pk}@{solved.headers['In-Reply-To'].split('@')[1]}"
    )


def test_same_body_under_another_delivery_id_is_stored_once(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket)
    event, payload = samples.github_sequence(REPO, 42, start=START)[0]
    assert github_post(client, event, payload, delivery="a").status_code == 202
    again = github_post(client, event, payload, delivery="b")
    assert again.status_code == 200 and again.json()["duplicate"]
    assert InboundDelivery.objects.count() == 1


def test_a_bad_signature_is_refused_and_stores_nothing(dev: Dev) -> None:
    event, payload = samples.github_sequence(REPO, 42, start=START)[0]
    response = github_post(Client(), event, payload, secret="not the secret")
    assert response.status_code == 401
    assert "X-Hub-Signature-256 does not match" in response.json()["error"]
    unsigned = Client().post(
        "/development/webhooks/github/shop/",
        data=b"{}",
        content_type="application/json",
        headers={"X-GitHub-Event": "issues", "X-GitHub-Delivery": "x"},
    )
    assert (
        unsigned.status_code == 401 and "X-Hub-Signature-256 is missing" in unsigned.json()["error"]
    )
    assert not InboundDelivery.objects.exists()


def test_an_unknown_event_is_kept_and_ignored(dev: Dev) -> None:
    response = github_post(
        Client(), "star", {"action": "created", "repository": {"full_name": REPO}}
    )
    assert response.status_code == 202
    process()
    row = InboundDelivery.objects.get()
    assert row.state == DeliveryState.SENT and row.outcome.startswith("ignored: event 'star'")


def test_a_delivery_for_an_issue_no_ticket_links_is_kept(dev: Dev) -> None:
    event, payload = samples.github_sequence(REPO, 99, start=START)[0]
    github_post(Client(), event, payload)
    process()
    row = InboundDelivery.objects.get()
    assert row.state == DeliveryState.SENT
    assert row.outcome == f"{REPO}#99: no ticket is linked to it"


def test_a_deployment_that_arrives_before_the_merge_it_contains_still_solves(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket)
    sequence = samples.github_sequence(REPO, 42, start=START)
    labelled, opened, merged, deployed = sequence
    for event, payload in (labelled, opened, deployed, merged):
        github_post(client, event, payload)
        process()
    dev.ticket.refresh_from_db()
    assert dev.ticket.status == Status.SOLVED
    stages = list(TicketLink.objects.get().moves.values_list("stage", flat=True))
    assert stages == ["logged", "accepted", "in_review", "released"]


def test_a_deployment_before_the_merge_happened_does_not_contain_it(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket)
    github_post(
        client,
        "deployment_status",
        samples.github_deployment_status(REPO, sha="0" * 40, at=START - timedelta(days=1)),
    )
    _, opened, merged, _ = samples.github_sequence(REPO, 42, start=START)
    github_post(client, *opened)
    github_post(client, *merged)
    process()
    dev.ticket.refresh_from_db()
    assert dev.ticket.status != Status.SOLVED
    assert TicketLink.objects.get().stage == Stage.FIXED


def test_a_deployment_to_staging_changes_nothing(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket)
    _, opened, merged, _ = samples.github_sequence(REPO, 42, start=START)
    github_post(client, *opened)
    github_post(client, *merged)
    staging = samples.github_deployment_status(
        REPO, sha=samples.MERGE_SHA, at=START + timedelta(hours=1), environment="staging"
    )
    github_post(client, "deployment_status", staging)
    process()
    assert InboundDelivery.objects.filter(outcome__contains="not 'production'").count() == 1
    assert TicketLink.objects.get().stage == Stage.FIXED


def test_many_tickets_on_one_issue_each_get_the_note_and_are_solved(dev: Dev) -> None:
    client = Client()
    other = dev.ticket_of("Discounts missing from the export, again")
    link(dev, dev.ticket)
    link(dev, other)
    for event, payload in samples.github_sequence(REPO, 42, start=START):
        github_post(client, event, payload)
    process()
    for ticket in (dev.ticket, other):
        ticket.refresh_from_db()
        assert ticket.status == Status.SOLVED
        assert len(notes(ticket)) == 5


def test_a_closed_ticket_is_left_alone(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket)
    Ticket.objects.filter(pk=dev.ticket.pk).update(status=Status.CLOSED)
    for event, payload in samples.github_sequence(REPO, 42, start=START):
        github_post(client, event, payload)
    process()
    dev.ticket.refresh_from_db()
    assert dev.ticket.status == Status.CLOSED
    assert len(notes(dev.ticket)) == 1
    assert TicketLink.objects.get().stage == Stage.RELEASED  # the history still follows


def test_without_resolve_on_production_the_note_is_added_and_the_ticket_stays_open(
    dev: Dev,
) -> None:
    carol = dev.world.carol  # Initech: the cloud-support policy, which has no [development]
    ticket = open_ticket(
        organisation=carol.organisation,
        requester=carol,
        subject="Export broken",
        body="Since Monday.",
        severity=2,
        channel=Channel.HUB,
    )
    link(dev, ticket)
    client = Client()
    for event, payload in samples.github_sequence(REPO, 42, start=START):
        github_post(client, event, payload)
    process()
    ticket.refresh_from_db()
    assert ticket.status != Status.SOLVED
    assert len(notes(ticket)) == 5


def test_linking_by_pull_request_url_follows_that_pull_request(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket, url=f"https://github.com/{REPO}/pull/57")
    _, opened, merged, deployed = samples.github_sequence(REPO, 42, start=START)
    for event, payload in (opened, merged, deployed):
        github_post(client, event, payload)
    process()
    dev.ticket.refresh_from_db()
    assert dev.ticket.status == Status.SOLVED


def test_a_published_release_containing_the_merge_solves_where_releases_are_production(
    dev: Dev,
) -> None:
    dev.github.release_is_production = True
    dev.github.save()
    client = Client()
    link(dev, dev.ticket)
    _, opened, merged, _ = samples.github_sequence(REPO, 42, start=START)
    release = {
        "action": "published",
        "release": {
            "tag_name": "v2.4.0",
            "target_commitish": "main",
            "name": "2.4.0",
            "draft": False,
            "prerelease": False,
            "published_at": (START + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "html_url": f"https://github.com/{REPO}/releases/tag/v2.4.0",
        },
        "repository": samples.github_repository(REPO),
        "sender": samples.SENDER,
    }
    github_post(client, "release", release)  # before the merge it contains arrives
    github_post(client, *opened)
    github_post(client, *merged)
    process()
    dev.ticket.refresh_from_db()
    assert dev.ticket.status == Status.SOLVED


def test_a_release_changes_nothing_where_deployments_are_production(dev: Dev) -> None:
    link(dev, dev.ticket)
    github_post(
        Client(),
        "release",
        {"action": "published", "release": {"tag_name": "v1"}, "repository": {"full_name": REPO}},
    )
    process()
    assert "deployments" in InboundDelivery.objects.get().outcome


def test_the_back_office_wording_of_a_note_wins(dev: Dev) -> None:
    NoteTemplate.objects.create(stage="accepted", text="Good news: {key} ({title}) is {stage}.")
    link(dev, dev.ticket)
    github_post(Client(), *samples.github_sequence(REPO, 42, start=START)[0])
    process()
    assert notes(dev.ticket)[-1] == (
        f"Good news: {REPO}#42 (Order export drops lines with a discount) is "
        "Accepted by development."
    )


def test_a_ticket_linked_later_catches_up_with_the_issue(dev: Dev) -> None:
    client = Client()
    link(dev, dev.ticket)
    labelled, opened, _, _ = samples.github_sequence(REPO, 42, start=START)
    github_post(client, *labelled)
    github_post(client, *opened)
    process()
    later = link(dev, dev.ticket_of("Same export bug at another customer site"))
    assert list(later.moves.values_list("stage", flat=True)) == ["logged", "in_review"]
    assert len(notes(later.ticket)) == 2
