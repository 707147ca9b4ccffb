"""The demo's development tickets: Acme Wholesale (the B2B policy) connected to a GitHub
repository and a Jira site, one ticket linked to each; `supporthub development-demo-post`
then posts the documented sequence of signed deliveries to the running app."""

from __future__ import annotations

from supporthub.access import Viewer
from supporthub.customers.models import Organisation
from supporthub.development.models import Tracker, TrackerConnection
from supporthub.development.services import ticket_link_issue
from supporthub.tickets.services import ticket_escalate

GITHUB_REPOSITORY = "acme-wholesale/shop"
JIRA_SITE = "https://acme-wholesale.atlassian.net"
GITHUB_ISSUE = 42
JIRA_ISSUE_ID, JIRA_KEY = "10042", "SHOP-7"
DEMO_SECRETS = {
    "acme-shop": "demo-github-webhook-secret",
    "acme-jira": "demo-jira-webhook-secret",
    "acme-ci": "demo-ci-webhook-secret",
}


def demo_connections() -> dict[str, TrackerConnection]:
    """The three connections of the demo, made once (their secrets are in README)."""
    made = {}
    for slug, name, kind, url in (
        (
            "acme-shop",
            "Acme shop (GitHub)",
            Tracker.GITHUB,
            f"https://github.com/{GITHUB_REPOSITORY}",
        ),
        ("acme-jira", "Acme Jira", Tracker.JIRA, JIRA_SITE),
        ("acme-ci", "Acme release pipeline", Tracker.GENERIC, "https://ci.acme-wholesale.example"),
    ):
        connection = TrackerConnection.objects.filter(slug=slug).first()
        if connection is None:
            connection = TrackerConnection(name=name, slug=slug, kind=kind, web_url=url)
            connection.set_webhook_secret(DEMO_SECRETS[slug])
            connection.save()
        made[slug] = connection
    return made


def demo_links(*, organisation: Organisation, viewer: Viewer) -> None:
    """Link two of the organisation's open tickets: one to a GitHub issue (escalated, so the
    CS lead's hot items show it), one to a Jira issue."""
    demo_connections()
    tickets = list(organisation.tickets.order_by("received_at"))
    if len(tickets) < 2 or tickets[0].development_links.exists():
        return
    # The oldest ("Ingest pipeline drops documents") and "Search latency doubled ...".
    github_ticket, jira_ticket = tickets[0], tickets[-2]
    ticket_escalate(
        ticket=github_ticket,
        reason="Blocks Acme's month-end export; needs development.",
        viewer=viewer,
    )
    ticket_link_issue(
        ticket=github_ticket,
        url=f"https://github.com/{GITHUB_REPOSITORY}/issues/{GITHUB_ISSUE}",
        viewer=viewer,
    )
    ticket_link_issue(ticket=jira_ticket, url=f"{JIRA_SITE}/browse/{JIRA_KEY}", viewer=viewer)
