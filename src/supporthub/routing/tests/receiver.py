"""A local HTTP receiver on loopback standing in for PagerDuty's Events API v2 and for a
webhook endpoint: it records every request, answers as scripted (429 with Retry-After, 500,
a stall past the client's timeout) and checks PagerDuty events the way PagerDuty does."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from supporthub.testing.loopback import LoopbackServer, QuietHandler

EVENT_ACTIONS = {"trigger", "acknowledge", "resolve"}
SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass(frozen=True)
class Reply:
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0  # seconds to wait, then hang up unanswered (past the client's timeout)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what the receiver answered (0: the client had gone)

    def json(self) -> Any:
        return json.loads(self.body)


def pagerduty_errors(event: Any) -> list[str]:
    """What PagerDuty's Events API v2 would refuse with 400 (an empty list: accepted)."""
    if not isinstance(event, dict):
        return ["the event must be a JSON object"]
    errors = []
    if not isinstance(event.get("routing_key"), str) or not event["routing_key"]:
        errors.append("routing_key is required")
    action = event.get("event_action")
    if action not in EVENT_ACTIONS:
        errors.append(f"event_action must be one of {sorted(EVENT_ACTIONS)}")
    if action in ("acknowledge", "resolve") and not event.get("dedup_key"):
        errors.append("dedup_key is required to acknowledge or resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("payload is required to trigger")
        else:
            for key in ("summary", "source"):
                if not isinstance(payload.get(key), str) or not payload[key]:
                    errors.append(f"payload.{key} is required")
            if payload.get("severity") not in SEVERITIES:
                errors.append(f"payload.severity must be one of {sorted(SEVERITIES)}")
            if len(payload.get("summary") or "") > 1024:
                errors.append("payload.summary is longer than 1024 characters")
        for link in event.get("links") or []:
            if not isinstance(link, dict) or not link.get("href"):
                errors.append("links[].href is required")
    return errors


class Receiver(LoopbackServer):
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: list[Reply] = []  # the next answers, in order; then 202
        self.lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                request = Request(self.path, dict(self.headers.items()), body)
                with receiver.lock:
                    receiver.requests.append(request)
                    reply = receiver.script.pop(0) if receiver.script else Reply()
                if reply.stall:
                    time.sleep(reply.stall)  # the client gives up first; it gets no answer
                    self.close_connection = True
                    return
                status = reply.status
                answer: dict[str, Any] = {"status": "success"}
                if self.path.endswith("/v2/enqueue") and 200 <= status < 300:
                    try:
                        errors = pagerduty_errors(json.loads(body))
                    except ValueError:
                        errors = ["the body is not JSON"]
                    if errors:
                        status, answer = 400, {"status": "invalid event", "errors": errors}
                    else:
                        answer["dedup_key"] = json.loads(body).get("dedup_key", "")
                data = json.dumps(answer).encode()
                request.status = status  # before answering: the client may look at once
                try:
                    self.send_response(status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:
                    request.status = 0  # the client timed out and went away

        super().__init__(Handler)

    def accepted(self, path: str = "") -> list[Request]:
        return [r for r in self.requests if 200 <= r.status < 300 and r.path.endswith(path)]
