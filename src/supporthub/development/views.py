"""The trackers' webhooks: /development/webhooks/{github,jira,generic}/<connection>/.

Order: no such connection (404), no secret set (503), bad signature (401), no delivery id
or a body that is not a JSON object (400 naming it): none of them stores anything. A
genuine delivery is stored raw, then answered 202; the same delivery again (by id, or by
the hash of its body) is answered 200 and stored once. Processing is on the queue.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from supporthub.development import signatures
from supporthub.development.delivery import DELIVERIES
from supporthub.development.models import InboundDelivery, Tracker, TrackerConnection
from supporthub.notify import webhook
from supporthub.secrets import SecretUnreadable

log = logging.getLogger(__name__)
KEPT_HEADERS = ("x-github-", "x-atlassian-", "x-supporthub-", "x-hub-", "user-agent")
DELIVERY_HEADERS = {
    Tracker.GITHUB: "X-GitHub-Delivery",
    Tracker.JIRA: "X-Atlassian-Webhook-Identifier",
    Tracker.GENERIC: webhook.DELIVERY_HEADER,
}


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name.lower(): value
        for name, value in headers.items()
        if name.lower().startswith(KEPT_HEADERS) or name.lower() == "content-type"
    }


def _receive(request: HttpRequest, slug: str, kind: Tracker) -> JsonResponse:
    connection = TrackerConnection.objects.filter(slug=slug, kind=kind, active=True).first()
    if connection is None:
        return _error(404, f"no active {kind.label} connection {slug!r}")
    try:
        secret = connection.webhook_secret()
    except SecretUnreadable as exc:
        return _error(503, str(exc))
    if not secret:
        return _error(503, f"{connection.slug}: no webhook secret is set in the back office")
    body = request.body
    try:
        if kind == Tracker.GITHUB:
            signatures.verify_hub(
                body, request.headers, secret=secret, header=signatures.GITHUB_HEADER
            )
        elif kind == Tracker.JIRA:
            signatures.verify_hub(
                body, request.headers, secret=secret, header=signatures.JIRA_HEADER
            )
        else:
            signatures.verify_generic(body, request.headers, secret=secret, now=timezone.now())
    except webhook.SignatureError as exc:
        log.warning("development webhook %s: %s", connection.slug, exc)
        return _error(401, str(exc))
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return _error(400, "body: not JSON")
    if not isinstance(data, dict):
        return _error(400, "body: expected a JSON object")
    digest = hashlib.sha256(body).hexdigest()
    delivery_id = request.headers.get(DELIVERY_HEADERS[kind], "").strip()
    if not delivery_id:
        if kind != Tracker.JIRA:
            return _error(400, f"{DELIVERY_HEADERS[kind]} is missing")
        delivery_id = f"sha256:{digest}"  # Jira Data Center sends no identifier
    if kind == Tracker.GITHUB:
        event = request.headers.get("X-GitHub-Event", "")
    elif kind == Tracker.JIRA:
        event = str(data.get("webhookEvent", ""))
    else:
        event = str(data.get("event") or request.headers.get(webhook.EVENT_HEADER, ""))
    same = Q(delivery_id=delivery_id[:200]) | Q(payload_sha256=digest)
    existing = InboundDelivery.objects.filter(same, connection=connection).first()
    if existing is None:
        try:
            with transaction.atomic():
                existing = InboundDelivery.objects.create(
                    connection=connection,
                    delivery_id=delivery_id[:200],
                    event=event[:100],
                    payload_sha256=digest,
                    headers=_kept(request.headers),
                    body=body.decode(),
                )
                transaction.on_commit(DELIVERIES.wake, robust=True)
        except IntegrityError:
            # The same delivery, arriving at this very moment on another worker.
            existing = InboundDelivery.objects.filter(same, connection=connection).first()
            if existing is None:
                raise
        else:
            return JsonResponse({"delivery": existing.pk, "state": existing.state}, status=202)
    return JsonResponse(
        {"delivery": existing.pk, "state": existing.state, "duplicate": True}, status=200
    )


@csrf_exempt
@require_POST
def github(request: HttpRequest, slug: str) -> JsonResponse:
    return _receive(request, slug, Tracker.GITHUB)


@csrf_exempt
@require_POST
def jira(request: HttpRequest, slug: str) -> JsonResponse:
    return _receive(request, slug, Tracker.JIRA)


@csrf_exempt
@require_POST
def generic(request: HttpRequest, slug: str) -> JsonResponse:
    return _receive(request, slug, Tracker.GENERIC)
