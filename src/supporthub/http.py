"""The one way out to other HTTP services (PagerDuty, webhooks, trackers' APIs): timeouts,
a User-Agent, no redirects. Tests point it at a receiver on loopback, or patch `post`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version

import httpx


def _user_agent() -> str:
    try:
        return f"SupportHub/{version('supporthub')}"
    except PackageNotFoundError:
        return "SupportHub"


USER_AGENT = _user_agent()
GET_KEEP = 2_000_000  # characters of a GET's answer kept (a tracker's JSON)


class HttpFailure(Exception):
    """The request never got an answer (timeout, refused connection, DNS, TLS)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Worth trying again later: rate limited, or the other side is in trouble."""
        return self.status in (408, 425, 429) or self.status >= 500

    def retry_after(self, *, now: datetime) -> timedelta | None:
        """The wait the server asked for (Retry-After: seconds or an HTTP date), if any."""
        raw = self.headers.get("retry-after", "").strip()
        if not raw:
            return None
        if raw.isdigit():
            # A day at most: a larger (or absurd) value would overflow timedelta; callers
            # cap the wait further anyway.
            return timedelta(seconds=min(int(raw), 86_400))
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return min(max(when - now, timedelta(0)), timedelta(days=1))


def post(
    url: str, *, body: bytes, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> Response:
    """POST `body` to `url`; any answer (even 500) is a Response, no answer is HttpFailure.

    Redirects are not followed: an endpoint that moved must be reconfigured, never chased
    to another host with the body (and its secrets) in hand.
    """
    sent = {"User-Agent": USER_AGENT, "Content-Type": "application/json", **(headers or {})}
    return _request("POST", url, body=body, headers=sent, timeout=timeout, keep=2000)


def get(url: str, *, headers: dict[str, str] | None = None, timeout: float = 10.0) -> Response:
    """GET `url` (a tracker's REST API); as `post`: no redirects, no answer is HttpFailure.
    The whole body is kept (up to GET_KEEP characters): the caller reads it."""
    sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
    return _request("GET", url, body=None, headers=sent, timeout=timeout, keep=GET_KEEP)


def _request(
    method: str,
    url: str,
    *,
    body: bytes | None,
    headers: dict[str, str],
    timeout: float,
    keep: int,
) -> Response:
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            reply = client.request(method, url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise HttpFailure(f"timed out after {timeout:g}s: {exc!r}", timeout=True) from exc
    except httpx.HTTPError as exc:
        raise HttpFailure(f"{type(exc).__name__}: {exc}") from exc
    return Response(
        status=reply.status_code,
        headers={k.lower(): v for k, v in reply.headers.items()},
        text=reply.text[:keep],
    )
