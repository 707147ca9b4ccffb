"""Reading trackers through their REST APIs (supporthub.http) against a loopback server:
GitHub's compare API deciding containment, and reconciliation catching missed moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from supporthub.access import viewer_for
from supporthub.development import samples
from supporthub.development.models import StageMove, TicketLink
from supporthub.development.reconcile import reconcile_links
from supporthub.development.services import ticket_link_issue
from supporthub.development.stages import Stage
from supporthub.development.tests.conftest import REPO, SITE, Dev, github_post, process
from supporthub.development.tests.fake_tracker import FakeTracker
from supporthub.tickets.models import Status

START = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture
def tracker() -> Iterator[FakeTracker]:
    with FakeTracker() as fake:
        yield fake


def with_api(dev: Dev, fake: FakeTracker) -> None:
    for connection in (dev.github, dev.jira):
        connection.api_url = fake.url
        connection.api_user = "bot@acme.example"
        connection.set_api_token("token-123")
        connection.save()


def link(dev: Dev, url: str) -> TicketLink:
    viewer = viewer_for(dev.world.alice.user)
    assert viewer is not None
    return ticket_link_issue(ticket=dev.ticket, url=url, viewer=viewer)


def test_the_compare_api_saying_behind_keeps_the_ticket_open(
    dev: Dev, tracker: FakeTracker
) -> None:
    with_api(dev, tracker)
    link(dev, f"https://github.com/{REPO}/issues/42")
    deployed = "d" * 40
    tracker.compare[(samples.MERGE_SHA, deployed)] = "behind"  # a hotfix from another branch
    client = Client()
    _, opened, merged, _ = samples.github_sequence(REPO, 42, start=START)
    github_post(client, *opened)
    github_post(client, *merged)
    later = samples.github_deployment_status(REPO, sha=deployed, at=START + timedelta(hours=2))
    github_post(client, "deployment_status", later)
    process()
    assert TicketLink.objects.get().stage == Stage.FIXED
    compared = [path for path, _ in tracker.requests if "/compare/" in path]
    assert compared == [f"/repos/{REPO}/compare/{samples.MERGE_SHA}...{deployed}?per_page=1"]
    assert tracker.requests[0][1]["Authorization"] == "Bearer token-123"
    tracker.compare[(samples.MERGE_SHA, "e" * 40)] = "ahead"
    github_post(
        client,
        "deployment_status",
        samples.github_deployment_status(REPO, sha="e" * 40, at=START + timedelta(hours=3)),
    )
    process()
    dev.ticket.refresh_from_db()
    assert dev.ticket.status == Status.SOLVED


def test_reconciliation_applies_a_missed_github_move_once(dev: Dev, tracker: FakeTracker) -> None:
    with_api(dev, tracker)
    link(dev, f"https://github.com/{REPO}/issues/42")
    labelled = samples.github_issue_labeled(REPO, 42, at=START)
    tracker.github_issues[42] = labelled["issue"]
    assert reconcile_links() == 1
    assert reconcile_links() == 0  # nothing new: nothing twice
    assert TicketLink.objects.get().stage == Stage.ACCEPTED
    assert any(path == f"/repos/{REPO}/issues/42" for path, _ in tracker.requests)


def test_reconciliation_reads_the_fixing_pull_requests(dev: Dev, tracker: FakeTracker) -> None:
    with_api(dev, tracker)
    link(dev, f"https://github.com/{REPO}/issues/42")
    tracker.github_issues[42] = samples.github_issue(REPO, 42, at=START, labels=[])
    _, opened, _, _ = samples.github_sequence(REPO, 42, start=START)
    github_post(Client(), *opened)
    process()
    tracker.github_pulls[57] = samples.github_pull(
        REPO, 57, fixes=42, at=START + timedelta(hours=1), merged=True
    )
    reconcile_links()
    assert TicketLink.objects.get().stage == Stage.FIXED


def test_reconciliation_reads_a_jira_issue_by_its_key_then_its_id(
    dev: Dev, tracker: FakeTracker
) -> None:
    with_api(dev, tracker)
    link(dev, f"{SITE}/browse/SHOP-7")
    issue = samples.jira_issue(SITE, issue_id="10042", key="SHOP-7", status="In Progress", at=START)
    tracker.jira_issues["SHOP-7"] = tracker.jira_issues["10042"] = issue
    assert reconcile_links() == 1
    assert TicketLink.objects.get().stage == Stage.IN_PROGRESS
    tracker.jira_issues["10042"] = samples.jira_issue(
        SITE,
        issue_id="10042",
        key="SHOP-7",
        status="Done",
        at=START + timedelta(hours=1),
        fix_versions=[samples.jira_version(SITE, released=True)],
    )
    reconcile_links()
    paths = [path.split("?")[0] for path, _ in tracker.requests]
    assert paths == ["/rest/api/2/issue/SHOP-7", "/rest/api/2/issue/10042"]
    dev.ticket.refresh_from_db()
    assert dev.ticket.status == Status.SOLVED
    assert StageMove.objects.filter(source="reconcile").count() == 2


def test_an_unreachable_tracker_changes_nothing(dev: Dev) -> None:
    dev.github.api_url = "http://127.0.0.1:9"  # nothing listens there
    dev.github.set_api_token("token")
    dev.github.save()
    link(dev, f"https://github.com/{REPO}/issues/42")
    assert reconcile_links() == 0
    assert TicketLink.objects.get().stage == Stage.LOGGED
