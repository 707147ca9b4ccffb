"""Console tests run at a fixed instant (due times and "breaching soon" are exact) and keep
uploaded files in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine

from supporthub.console.tests.helpers import NOW


@pytest.fixture
def frozen() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
