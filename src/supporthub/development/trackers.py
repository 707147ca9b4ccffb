"""Reading trackers' REST APIs through supporthub.http: GitHub's issues, pulls and compare
endpoints, Jira's issue endpoint. Every call answers None when the tracker did not (no
token, no answer, an error status): callers fall back on what they already know."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any
from urllib.parse import quote

from django.conf import settings

from supporthub import http
from supporthub.development.models import Tracker, TrackerConnection
from supporthub.secrets import SecretUnreadable

logger = logging.getLogger(__name__)
GITHUB_API = "https://api.github.com"


def api_root(connection: TrackerConnection) -> str:
    if connection.api_url:
        return connection.api_url.rstrip("/")
    return GITHUB_API if connection.kind == Tracker.GITHUB else connection.web_url.rstrip("/")


def _headers(connection: TrackerConnection) -> dict[str, str] | None:
    try:
        token = connection.api_token()
    except SecretUnreadable as exc:
        logger.warning("%s", exc)
        return None
    if not token:
        return None
    if connection.kind == Tracker.GITHUB:
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
    basic = base64.b64encode(f"{connection.api_user}:{token}".encode()).decode()
    return {"Authorization": f"Basic {basic}"}


def read(connection: TrackerConnection, path: str) -> Any:
    """The JSON at `path` under the connection's API root, or None."""
    headers = _headers(connection)
    if headers is None:
        return None
    url = api_root(connection) + path
    try:
        response = http.get(url, headers=headers, timeout=settings.DEVELOPMENT_HTTP_TIMEOUT)
    except http.HttpFailure as exc:
        logger.warning("%s: GET %s: %s", connection.slug, path, exc)
        return None
    if not response.ok:
        logger.warning("%s: GET %s: HTTP %s", connection.slug, path, response.status)
        return None
    try:
        return json.loads(response.text)
    except ValueError:
        logger.warning("%s: GET %s: the answer is not JSON", connection.slug, path)
        return None


def github_compare(connection: TrackerConnection, *, base: str, head: str) -> str | None:
    """GitHub's compare status of base...head: "ahead" or "identical" when head contains
    base, "behind" or "diverged" when not; None when GitHub did not say."""
    repo = quote(connection.repository, safe="/")
    data = read(connection, f"/repos/{repo}/compare/{quote(base)}...{quote(head)}?per_page=1")
    status = data.get("status") if isinstance(data, dict) else None
    return status if isinstance(status, str) else None


def github_issue(connection: TrackerConnection, number: int) -> Any:
    return read(connection, f"/repos/{quote(connection.repository, safe='/')}/issues/{number}")


def github_pull(connection: TrackerConnection, number: int) -> Any:
    return read(connection, f"/repos/{quote(connection.repository, safe='/')}/pulls/{number}")


def jira_issue(connection: TrackerConnection, id_or_key: str) -> Any:
    fields = "summary,status,resolution,fixVersions,updated"
    return read(connection, f"/rest/api/2/issue/{quote(id_or_key)}?fields={fields}")
