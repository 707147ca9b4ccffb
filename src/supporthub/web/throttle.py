"""Login throttling on django-axes: two limits, a wait that doubles, and the lockout page.

Axes counts failed logins per (account, address) and per address (AXES_LOCKOUT_PARAMETERS);
this module gives the address its own, higher limit, reckons the wait from axes' failure log
and answers a refused login with a page of ours (settings: "Login throttling").
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessFailureLog
from django.conf import settings
from django.db.models import Max, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

# How far back failures count towards a longer wait.
MEMORY = timedelta(days=1)


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler, the address held to LOGIN_ADDRESS_FAILURE_LIMIT of its own."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        account, address = (
            _failures(attempts) for attempts in self.get_user_attempts(request, credentials)
        )
        # Axes compares one count with AXES_FAILURE_LIMIT: an address past its own limit
        # counts as an account at the account limit.
        if address >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(account, settings.LOGIN_FAILURE_LIMIT)
        return int(account)


def _failures(attempts: QuerySet[Any]) -> int:
    return int(attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0)


def cool_off(request: HttpRequest | None) -> timedelta:
    """The wait for this client: LOGIN_LOCKOUT_MINUTES, doubled for each further limit's worth
    of failures in the past day (the one being recorded included), at most the maximum."""
    base = timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    ip_address = getattr(request, "axes_ip_address", None)
    if request is None or ip_address is None:
        return base
    recent = AccessFailureLog.objects.filter(
        ip_address=ip_address, attempt_time__gte=timezone.now() - MEMORY
    )
    username = get_client_username(request)
    # While a failure is being recorded its log row is not written yet: the +1 counts it, so
    # the attempt that reaches a limit expires after the same wait the lockout then shows.
    lockouts = max(
        (recent.filter(username=username).count() + 1) // settings.LOGIN_FAILURE_LIMIT,
        (recent.count() + 1) // settings.LOGIN_ADDRESS_FAILURE_LIMIT,
    )
    longest = timedelta(minutes=settings.LOGIN_LOCKOUT_MAX_MINUTES)
    wait = base
    for _ in range(lockouts - 1):  # doubling stops at the maximum: no overflow on a flood
        if wait >= longest:
            break
        wait *= 2
    return min(wait, longest)


def failure_log_prune() -> int:
    """Delete failed logins older than LOGIN_FAILURE_LOG_DAYS from the failure log (the wait is
    reckoned from the past day only; an older row is kept for the back office's eyes alone).
    Returns how many were deleted."""
    return int(AxesDatabaseHandler().reset_failure_logs(age_days=settings.LOGIN_FAILURE_LOG_DAYS))


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """429 with the login page's look: wait about this long; Retry-After says it in seconds."""
    wait = get_cool_off(request) or timedelta(0)
    attempts = LoginThrottleHandler().get_user_attempts(request, credentials)
    latest = max(
        (a for q in attempts if (a := q.aggregate(t=Max("attempt_time"))["t"]) is not None),
        default=timezone.now(),
    )
    seconds = max(1, math.ceil((latest + wait - timezone.now()).total_seconds()))
    response = render(
        request,
        "web/login_locked.html",
        {"minutes": math.ceil(seconds / 60), "longest": settings.LOGIN_LOCKOUT_MAX_MINUTES},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
