"""A signed generic webhook: a JSON body POSTed with an HMAC-SHA256 signature, a delivery id
and a timestamp, so a receiver can check who sent it, drop repeats and refuse replays.

    X-SupportHub-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>
    X-SupportHub-Timestamp: <Unix seconds when this attempt was sent>
    X-SupportHub-Delivery: <UUID, the same on every retry of one delivery>
    X-SupportHub-Event: <what happened, e.g. oncall.trigger>

The timestamp is inside the signed text: changing it breaks the signature, so an old request
cannot be replayed later with a fresh timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from supporthub import http

SIGNATURE_HEADER = "X-SupportHub-Signature"
TIMESTAMP_HEADER = "X-SupportHub-Timestamp"
DELIVERY_HEADER = "X-SupportHub-Delivery"
EVENT_HEADER = "X-SupportHub-Event"
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The request is not a genuine, fresh Support Hub webhook; the message names the header."""


def signature(body: bytes, *, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(
    body: bytes, *, secret: str, delivery_id: str, event: str, now: datetime
) -> dict[str, str]:
    if not secret:
        raise ValueError("secret: a webhook is always signed")
    timestamp = int(now.timestamp())
    return {
        SIGNATURE_HEADER: signature(body, secret=secret, timestamp=timestamp),
        TIMESTAMP_HEADER: str(timestamp),
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: event,
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: str,
    now: datetime,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """What a receiver does: raise SignatureError unless the signature matches and the
    timestamp is within `tolerance` seconds of `now`."""
    found = {name.lower(): value for name, value in headers.items()}
    sent = found.get(SIGNATURE_HEADER.lower(), "")
    raw_time = found.get(TIMESTAMP_HEADER.lower(), "")
    if not sent:
        raise SignatureError(f"{SIGNATURE_HEADER} is missing")
    if not raw_time.isdigit():
        raise SignatureError(f"{TIMESTAMP_HEADER} is missing or not Unix seconds: {raw_time!r}")
    timestamp = int(raw_time)
    if not hmac.compare_digest(sent, signature(body, secret=secret, timestamp=timestamp)):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body and timestamp")
    if abs(now.timestamp() - timestamp) > tolerance:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is {abs(int(now.timestamp()) - timestamp)}s away from now "
            f"(more than {tolerance}s): a replay, or a clock that is wrong"
        )


def send(
    url: str,
    *,
    payload: Mapping[str, Any],
    secret: str,
    delivery_id: str,
    event: str,
    now: datetime,
    timeout: float,
) -> http.Response:
    """POST the signed payload; any answer is returned, no answer raises `http.HttpFailure`."""
    body = encode(payload)
    headers = signed_headers(body, secret=secret, delivery_id=delivery_id, event=event, now=now)
    return http.post(url, body=body, headers=headers, timeout=timeout)
