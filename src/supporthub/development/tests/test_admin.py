"""The back office: a connection's secrets typed in and stored encrypted, never shown; the
deliveries listed with their outcome and retried from the queue; note wording checked."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from supporthub.development.models import (
    DeliveryState,
    InboundDelivery,
    NoteTemplate,
    TrackerConnection,
)
from supporthub.development.tests.conftest import Dev

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_a_connection_is_added_with_its_secrets_encrypted(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:development_trackerconnection_add"),
        {
            "name": "Billing",
            "slug": "billing",
            "kind": "github",
            "web_url": "https://github.com/acme/billing",
            "api_url": "",
            "api_user": "",
            "webhook_secret": "whsec-plain-text",
            "api_token": "ghp_plain_token",
            "production_environment": "production",
            "default_branch": "main",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content
    made = TrackerConnection.objects.get(slug="billing")
    assert "whsec-plain-text" not in made.webhook_secret_encrypted
    assert made.webhook_secret() == "whsec-plain-text" and made.api_token() == "ghp_plain_token"
    page = admin_client.get(reverse("admin:development_trackerconnection_change", args=[made.pk]))
    html = page.content.decode()
    assert "whsec-plain-text" not in html and "ghp_plain_token" not in html
    assert (
        "/development/webhooks/github/billing/"
        in admin_client.get(
            reverse("admin:development_trackerconnection_changelist")
        ).content.decode()
    )


def test_a_connection_without_a_secret_is_refused(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:development_trackerconnection_add"),
        {
            "name": "Jira",
            "slug": "jira2",
            "kind": "jira",
            "web_url": "https://acme.atlassian.net",
            "production_environment": "production",
            "default_branch": "main",
        },
    )
    assert response.status_code == 200
    assert "Set the webhook secret" in response.content.decode()
    assert not TrackerConnection.objects.filter(slug="jira2").exists()


def test_failed_deliveries_are_listed_and_retried(dev: Dev, admin_client: Client) -> None:
    failed = InboundDelivery.objects.create(
        connection=dev.github,
        delivery_id="abc",
        event="issues",
        payload_sha256="0" * 64,
        body="{}",
        state=DeliveryState.FAILED,
        attempts=5,
        outcome="unreadable: repository: expected an object",
    )
    listing = admin_client.get(reverse("admin:development_inbounddelivery_changelist"))
    assert "unreadable: repository: expected an object" in listing.content.decode()
    response = admin_client.post(
        reverse("admin:development_inbounddelivery_changelist"),
        {"action": "retry_failed", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert "1 failed deliveries queued again." in response.content.decode()
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (DeliveryState.PENDING, 0)


def test_a_note_template_with_an_unknown_field_is_refused(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:development_notetemplate_add"),
        {"stage": "released", "text": "Shipped by {assignee}"},
    )
    assert "unknown field {assignee}" in response.content.decode()
    assert not NoteTemplate.objects.exists()
