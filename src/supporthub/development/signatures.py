"""Checking who sent a delivery. GitHub (X-Hub-Signature-256) and Jira (X-Hub-Signature,
WebSub's `method=signature`) sign the raw body with HMAC-SHA256; the generic format is
the product's own outbound scheme (supporthub.notify.webhook), timestamp included."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from supporthub.notify import webhook
from supporthub.notify.webhook import SignatureError

GITHUB_HEADER = "X-Hub-Signature-256"
JIRA_HEADER = "X-Hub-Signature"


def hub_signature(body: bytes, *, secret: str) -> str:
    """`sha256=<hex HMAC-SHA256 of the body>`, as GitHub and Jira send it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_hub(body: bytes, headers: Mapping[str, str], *, secret: str, header: str) -> None:
    """Raise SignatureError (naming the header) unless it holds the body's signature."""
    sent = headers.get(header, "")
    if not sent:
        raise SignatureError(f"{header} is missing")
    if not sent.startswith("sha256="):
        raise SignatureError(f"{header} is not of the form sha256=<hex>")
    if not hmac.compare_digest(sent, hub_signature(body, secret=secret)):
        raise SignatureError(f"{header} does not match the body")


def verify_generic(body: bytes, headers: Mapping[str, str], *, secret: str, now: datetime) -> None:
    webhook.verify(body, headers, secret=secret, now=now)
