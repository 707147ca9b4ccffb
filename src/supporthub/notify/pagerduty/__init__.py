"""PagerDuty Events API v2: the body of a trigger, acknowledge or resolve event, and its
delivery through `supporthub.http`. PagerDuty answers 202 when it has the event, 400 when the
event is malformed (retrying cannot help), 429 when rate limited, 5xx when in trouble."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from supporthub import http

EventAction = Literal["trigger", "acknowledge", "resolve"]
Severity = Literal["critical", "error", "warning", "info"]
SUMMARY_MAX = 1024  # PagerDuty truncates longer summaries; we cut them ourselves


def event_body(
    *,
    routing_key: str,
    action: EventAction,
    dedup_key: str,
    summary: str = "",
    source: str = "",
    severity: Severity = "critical",
    timestamp: datetime | None = None,
    link: str = "",
    link_text: str = "",
    custom_details: dict[str, Any] | None = None,
    group: str = "",
    class_: str = "",
) -> dict[str, Any]:
    """An Events API v2 event. A trigger carries the payload and a link back; acknowledge
    and resolve need only the routing key and the dedup key naming the incident."""
    if not routing_key.strip():
        raise ValueError("routing_key: PagerDuty needs the integration key of a service")
    if not dedup_key.strip():
        raise ValueError("dedup_key: every event names its incident")
    body: dict[str, Any] = {
        "routing_key": routing_key.strip(),
        "event_action": action,
        "dedup_key": dedup_key,
    }
    if action != "trigger":
        return body
    if not summary.strip() or not source.strip():
        raise ValueError("summary and source: a trigger needs both")
    payload: dict[str, Any] = {
        "summary": " ".join(summary.split())[:SUMMARY_MAX],
        "source": source,
        "severity": severity,
    }
    if timestamp is not None:
        payload["timestamp"] = timestamp.isoformat()
    if group:
        payload["group"] = group
    if class_:
        payload["class"] = class_
    if custom_details:
        payload["custom_details"] = custom_details
    body["payload"] = payload
    body["client"] = "Support Hub"
    if link:
        body["client_url"] = link
        body["links"] = [{"href": link, "text": link_text or link}]
    return body


def send(body: dict[str, Any], *, url: str, timeout: float) -> http.Response:
    """POST the event; any answer is returned, no answer raises `http.HttpFailure`."""
    data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return http.post(url, body=data, timeout=timeout)
