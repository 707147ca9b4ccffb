"""worker.loop: the loop the inbox, outbox and sla scan commands share."""

from __future__ import annotations

import time

import pytest

from supporthub import worker


class Steps:
    """Answers from a script (True: a full batch, more may wait); then stops the loop."""

    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        if not self.answers:
            raise KeyboardInterrupt  # the operator's ^C
        return self.answers.pop(0)


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def test_a_full_batch_goes_again_at_once_a_short_one_after_the_pause(pauses: list[float]) -> None:
    steps = Steps(True, True, False, False)
    with pytest.raises(KeyboardInterrupt):
        worker.loop(steps, pause=5)
    assert steps.calls == 5
    assert pauses == [5, 5]


def test_once_is_one_step_even_a_full_one(pauses: list[float]) -> None:
    steps = Steps(True)
    worker.loop(steps, pause=5, once=True)
    assert (steps.calls, pauses) == (1, [])


def test_until_idle_stops_at_the_first_short_step(pauses: list[float]) -> None:
    steps = Steps(True, True, False, True)
    worker.loop(steps, pause=5, until_idle=True)
    assert (steps.calls, pauses) == (3, [])
