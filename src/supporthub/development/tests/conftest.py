"""Tracker connections and a ticket of the B2B policy (resolve_on_production = true)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from supporthub.customers.models import SupportContact
from supporthub.development.delivery import DELIVERIES
from supporthub.development.models import Tracker, TrackerConnection
from supporthub.testing import factories as f
from supporthub.testing.tickets import open_ticket
from supporthub.testing.world import World
from supporthub.tickets.models import Channel, Ticket

GITHUB_SECRET = "It's a Secret to Everybody"
JIRA_SECRET = "jira-webhook-secret-0123456789"
GENERIC_SECRET = "generic-tracker-secret"
REPO = "acme/shop"
SITE = "https://acme.atlassian.net"


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, indent=2).encode()


def github_post(
    client: Client,
    event: str,
    payload: dict[str, Any],
    *,
    delivery: str | None = None,
    secret: str = GITHUB_SECRET,
    slug: str = "shop",
) -> Any:
    body = body_of(payload)
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        f"/development/webhooks/github/{slug}/",
        data=body,
        content_type="application/json",
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": signature,
        },
    )


def jira_post(
    client: Client, payload: dict[str, Any], *, delivery: str | None = None, slug: str = "jira"
) -> Any:
    body = body_of(payload)
    signature = "sha256=" + hmac.new(JIRA_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        f"/development/webhooks/jira/{slug}/",
        data=body,
        content_type="application/json",
        headers={
            "X-Atlassian-Webhook-Identifier": delivery or str(uuid.uuid4()),
            "X-Hub-Signature": signature,
        },
    )


def process() -> int:
    return DELIVERIES.deliver_due()


@dataclass
class Dev:
    github: TrackerConnection
    jira: TrackerConnection
    generic: TrackerConnection
    ticket: Ticket
    ava: SupportContact
    world: World

    def ticket_of(self, subject: str) -> Ticket:
        return open_ticket(
            organisation=self.ava.organisation,
            requester=self.ava,
            subject=subject,
            body="It happens on every export.",
            severity=2,
            channel=Channel.HUB,
        )


def connection(
    kind: Tracker, slug: str, web_url: str, secret: str, **extra: Any
) -> TrackerConnection:
    made = TrackerConnection(name=slug.title(), slug=slug, kind=kind, web_url=web_url, **extra)
    made.set_webhook_secret(secret)
    made.save()
    return made


@pytest.fixture
def dev(world: World) -> Dev:
    acme = f.organisation(name="Acme Wholesale", time_zone="America/Los_Angeles")
    f.subscribe(acme, policy_key="b2b-customer-success", level="customer-success")
    ava = f.add_contact(acme, "Ava Brooks", email="ava@acme.example")
    made = Dev(
        github=connection(Tracker.GITHUB, "shop", f"https://github.com/{REPO}", GITHUB_SECRET),
        jira=connection(Tracker.JIRA, "jira", SITE, JIRA_SECRET),
        generic=connection(Tracker.GENERIC, "ci", "https://ci.example.com", GENERIC_SECRET),
        ticket=Ticket(),
        ava=ava,
        world=world,
    )
    made.ticket = made.ticket_of("Order export drops discounted lines")
    return made
