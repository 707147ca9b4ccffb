"""`supporthub development reconcile` (re-read every open link from its tracker, as the
worker does periodically) and `supporthub development demo-post github|jira`: post the
documented sequence of signed deliveries to a running Support Hub, each one twice (as a
tracker's retry would): four stage moves, four customer-visible notes, and the last one
solves the linked demo ticket, once."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils import timezone

from supporthub import http
from supporthub.development import demo, samples
from supporthub.development.models import TrackerConnection
from supporthub.development.reconcile import reconcile_links
from supporthub.development.signatures import GITHUB_HEADER, JIRA_HEADER, hub_signature


class Command(BaseCommand):
    help = "Development tickets: reconcile open links, or post the demo's signed sequence."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("reconcile", help="Re-read each open link's issue from its tracker.")
        post = sub.add_parser(
            "demo-post", help="Post the demo's signed GitHub or Jira sequence, each twice."
        )
        post.add_argument("tracker", choices=["github", "jira"])
        post.add_argument(
            "--base-url", default=settings.PUBLIC_BASE_URL, help="where the app answers"
        )
        post.add_argument("--once", action="store_true", help="send each delivery once")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "reconcile":
            moved = reconcile_links()
            self.stdout.write(f"{moved} stage move(s) applied")
            return
        self.demo_post(**options)

    def demo_post(self, **options: Any) -> None:
        tracker: str = options["tracker"]
        slug = "acme-shop" if tracker == "github" else "acme-jira"
        connection = TrackerConnection.objects.filter(slug=slug).first()
        if connection is None:
            raise CommandError(f"no connection {slug!r}: run `supporthub demo` first")
        secret = connection.webhook_secret()
        url = options["base_url"].rstrip("/") + reverse(f"development:{tracker}", args=[slug])
        start = timezone.now() - timedelta(hours=1)
        deliveries: list[tuple[dict[str, str], bytes]] = []
        if tracker == "github":
            for event, payload in samples.github_sequence(
                demo.GITHUB_REPOSITORY, demo.GITHUB_ISSUE, start=start
            ):
                body = json.dumps(payload).encode()
                deliveries.append(
                    ({"X-GitHub-Event": event, **self._hub(body, secret, True)}, body)
                )
        else:
            for payload in samples.jira_sequence(
                demo.JIRA_SITE, issue_id=demo.JIRA_ISSUE_ID, key=demo.JIRA_KEY, start=start
            ):
                body = json.dumps(payload).encode()
                deliveries.append((self._hub(body, secret, False), body))
        for headers, body in deliveries:
            for _ in range(1 if options["once"] else 2):
                try:
                    answer = http.post(url, body=body, headers=headers)
                except http.HttpFailure as exc:
                    raise CommandError(f"{url}: {exc}") from exc
                self.stdout.write(f"{answer.status} {answer.text.strip()}")

    def _hub(self, body: bytes, secret: str, github: bool) -> dict[str, str]:
        signature = hub_signature(body, secret=secret)
        delivery = str(uuid.uuid5(uuid.NAMESPACE_URL, hashlib.sha256(body).hexdigest()))
        if github:
            return {GITHUB_HEADER: signature, "X-GitHub-Delivery": delivery}
        return {JIRA_HEADER: signature, "X-Atlassian-Webhook-Identifier": delivery}
