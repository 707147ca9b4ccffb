"""CoalescedWake: every request is followed by a wake-up that starts after it; many requests
made while one runs share the next."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from supporthub.worker import CoalescedWake

# The waker calls close_old_connections from its own thread: allow database access there.
pytestmark = pytest.mark.django_db(transaction=True)


def _until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


class _SlowWake:
    """A wake-up that blocks until released: requests made meanwhile arrive during a call."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.running = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.calls.append(1)
        self.running.set()
        self.release.wait(10)


def test_a_request_is_followed_by_a_wake_up_that_starts_after_it() -> None:
    starts: list[float] = []
    waker = CoalescedWake(lambda: starts.append(time.monotonic()), name="test-wake")
    try:
        for _ in range(20):
            asked = time.monotonic()
            waker.request()
            _until(lambda asked=asked: bool(starts) and starts[-1] >= asked)  # type: ignore[misc]
            assert starts[-1] >= asked
    finally:
        waker.close()


def test_requests_made_while_a_wake_up_runs_share_the_next_one() -> None:
    slow = _SlowWake()
    waker = CoalescedWake(slow, name="test-wake")
    calls, running, release = slow.calls, slow.running, slow.release
    try:
        waker.request()
        assert running.wait(10)
        for _ in range(500):  # a flood, while the first wake-up is still running
            waker.request()
        release.set()
        _until(lambda: len(calls) >= 2)
        time.sleep(0.1)
        # The flood began after the first call started: one more call serves all of it.
        assert len(calls) == 2
    finally:
        release.set()
        waker.close()


def test_a_failing_wake_up_does_not_stop_the_waker() -> None:
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the broker is down")

    waker = CoalescedWake(flaky, name="test-wake")
    try:
        waker.request()
        _until(lambda: len(calls) == 1)
        time.sleep(0.05)
        waker.request()
        _until(lambda: len(calls) == 2)
        assert len(calls) == 2
    finally:
        waker.close()


def test_a_request_made_while_closing_still_gets_its_wake_up() -> None:
    slow = _SlowWake()
    waker = CoalescedWake(slow, name="test-wake")
    calls, running, release = slow.calls, slow.running, slow.release
    waker.request()
    assert running.wait(10)
    waker.request()  # during the first call: that call may not see this request's row
    closing = threading.Thread(target=waker.close)
    closing.start()
    time.sleep(0.05)
    release.set()
    closing.join(10)
    assert len(calls) == 2


def test_with_spacing_calls_start_that_far_apart_and_still_after_every_request() -> None:
    starts: list[float] = []
    waker = CoalescedWake(lambda: starts.append(time.monotonic()), name="test-wake", spacing=0.2)
    try:
        last_asked = 0.0
        began = time.monotonic()
        while time.monotonic() - began < 0.7:  # a steady flow of requests
            last_asked = time.monotonic()
            waker.request()
            time.sleep(0.002)
        _until(lambda: bool(starts) and starts[-1] >= last_asked)
        assert starts[-1] >= last_asked
        gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
        # Timed inside the call, so one call's scheduling delay may eat into the next gap.
        assert gaps and min(gaps) >= 0.2 - 0.05
        assert len(starts) <= 6  # without spacing: one call per request served, hundreds
    finally:
        waker.close()


def test_closing_does_not_wait_out_the_spacing() -> None:
    calls: list[int] = []
    waker = CoalescedWake(lambda: calls.append(1), name="test-wake", spacing=30.0)
    waker.request()
    _until(lambda: len(calls) == 1)
    waker.request()  # its call would start 30 s after the first one
    began = time.monotonic()
    waker.close()
    assert time.monotonic() - began < 5
    assert len(calls) == 2
