"""Due instants per call: supporthub.businesstime against businesstimedelta and pandas.

The same 10,000 cases (the Base level: 08:00-18:00 Monday to Friday in America/New_York,
US holidays, targets of 4 business hours and of 2 business days = 20 hours, starts spread
over 2025-2026) go through each library in the same run. Each is timed after one warm-up
pass (so every library has built its caches), best of three. The answers are compared as
local wall times; a disagreement is counted and the first few are shown.

Run with `make bench` or `.venv/bin/python benchmarks/bench_due.py [--cases N]`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import businesstimedelta  # noqa: E402
import holidays  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytz  # noqa: E402

from supporthub.businesstime import Calendar, HolidayPlace, to_epoch_us  # noqa: E402

ZONE = "America/New_York"


def make_cases(count: int, seed: int = 2026) -> list[tuple[datetime, int]]:
    """Starts on whole minutes of local wall time, and a target in business hours."""
    rng = random.Random(seed)
    zone = ZoneInfo(ZONE)
    first = datetime(2025, 1, 1)  # noqa: DTZ001 - local wall time, zone attached below
    cases = []
    for _ in range(count):
        wall = first + timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
        cases.append((wall.replace(tzinfo=zone), rng.choice([4, 20])))
    return cases


def best_of(runs: int, work: Callable[[], object]) -> tuple[float, object]:
    work()  # warm-up: every library builds its caches first
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cases = make_cases(args.cases)
    years = range(2025, 2028)
    us = holidays.country_holidays("US", years=years)
    local = ZoneInfo(ZONE)

    ours = Calendar.windows(ZONE, [("08:00", "18:00")], holidays=HolidayPlace("US"))

    def run_ours() -> list[datetime]:
        return [ours.due(start, hours, "business_hours") for start, hours in cases]

    epochs = np.array([to_epoch_us(start, "start") for start, _ in cases], dtype=np.int64)
    amounts = np.array([hours for _, hours in cases])

    def run_ours_bulk() -> None:
        for hours in (4, 20):
            mask = amounts == hours
            ours.due_epochs(epochs[mask], hours, "business_hours")

    pytz_zone = pytz.timezone(ZONE)
    rules = businesstimedelta.Rules(
        [
            businesstimedelta.WorkDayRule(
                start_time=datetime.min.time().replace(hour=8),
                end_time=datetime.min.time().replace(hour=18),
                working_days=[0, 1, 2, 3, 4],
                tz=pytz_zone,
            ),
            businesstimedelta.HolidayRule(us, tz=pytz_zone),
        ]
    )
    btd_deltas = {h: businesstimedelta.BusinessTimeDelta(rules, hours=h) for h in (4, 20)}
    btd_starts = [pytz_zone.localize(start.replace(tzinfo=None)) for start, _ in cases]

    def run_btd() -> list[datetime]:
        return [
            start + btd_deltas[hours] for start, (_, hours) in zip(btd_starts, cases, strict=True)
        ]

    offsets = {
        h: pd.offsets.CustomBusinessHour(n=h, start="08:00", end="18:00", holidays=list(us))
        for h in (4, 20)
    }
    pd_starts = [pd.Timestamp(start.replace(tzinfo=None)) for start, _ in cases]

    def run_pandas() -> list[datetime]:
        return [
            (start + offsets[hours]).to_pydatetime()
            for start, (_, hours) in zip(pd_starts, cases, strict=True)
        ]

    n = len(cases)
    t_ours, ours_due = best_of(args.runs, run_ours)
    t_bulk, _ = best_of(args.runs, run_ours_bulk)
    t_btd, btd_due = best_of(args.runs, run_btd)
    t_pd, pd_due = best_of(args.runs, run_pandas)
    assert isinstance(ours_due, list) and isinstance(btd_due, list) and isinstance(pd_due, list)

    def per_call(seconds: float) -> str:
        return f"{seconds / n * 1e6:8.2f} µs/call"

    print(f"due instants, {n:,} cases (Base 08:00-18:00 {ZONE}, US holidays, 4 h and 20 h)")
    print(f"  supporthub.businesstime     {per_call(t_ours)}")
    print(f"  supporthub bulk (numpy)     {per_call(t_bulk)}")
    print(f"  businesstimedelta 1.0.1     {per_call(t_btd)}")
    print(f"  pandas CustomBusinessHour   {per_call(t_pd)}  (pandas {pd.__version__})")
    print(
        f"  ratio vs businesstimedelta: {t_btd / t_ours:7.1f}x per call "
        f"({t_btd / t_bulk:,.0f}x bulk)"
    )
    print(
        f"  ratio vs pandas:            {t_pd / t_ours:7.1f}x per call ({t_pd / t_bulk:,.0f}x bulk)"
    )
    verdict = "meets" if t_btd / t_ours >= 100 else "MISSES"
    print(f"  target: at least 100x faster per call than businesstimedelta: {verdict}")

    for name, theirs, naive in (("businesstimedelta", btd_due, False), ("pandas", pd_due, True)):
        differ = []
        for (start, hours), mine, other in zip(cases, ours_due, theirs, strict=True):
            mine_wall = mine.astimezone(local).replace(tzinfo=None)
            other_wall = other if naive else other.astimezone(local).replace(tzinfo=None)
            if mine_wall != other_wall:
                differ.append((start, hours, mine_wall, other_wall))
        print(f"  answers differing from {name}: {len(differ):,} of {n:,}")
        for start, hours, mine_wall, other_wall in differ[:3]:
            print(
                f"    {start:%a %Y-%m-%d %H:%M} + {hours} business hours: "
                f"ours {mine_wall:%a %Y-%m-%d %H:%M}, {name} {other_wall:%a %Y-%m-%d %H:%M}"
            )


if __name__ == "__main__":
    main()
