"""`supporthub dse replay`: one JSON line per good input line, an error naming the line and
field per bad one (nothing on standard output for it), exit 1 when any failed, 2 when the
policy cannot be read or has no [dse]; the same decision as live routing."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings

from supporthub.dse.availability import EngineerPlace, available_calendar, decide
from supporthub.policies.loader import load_policy
from supporthub.sla.clocks import iso

POLICIES = Path(settings.SRC_DIR).parent.parent / "examples" / "policies"
POLICY = POLICIES / "cloud-support.toml"


def _run(text: str, *args: str, policy: Path = POLICY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-m", "supporthub", "dse", "replay", "--policy", str(policy), *args],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _line(**fields: Any) -> str:
    base: dict[str, Any] = {
        "id": "c1",
        "engineer_timezone": "America/Los_Angeles",
        "holidays": "US-CA",
        "received_at": "2026-12-08T17:00:00Z",  # Tuesday 09:00 in Los Angeles
        "hours_logged_this_month": 3.5,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def _out(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_three_reasons_and_the_next_opening_in_utc() -> None:
    result = _run(
        "\n".join(
            [
                _line(id="open"),  # 09:00 is inside
                _line(id="closing", received_at="2026-12-09T01:00:00Z"),  # 17:00 is outside
                _line(id="limit", hours_logged_this_month=25),  # equal to the limit
                _line(id="bought", hours_logged_this_month=25, monthly_limit_hours=40),
                _line(
                    id="thanksgiving",
                    received_at="2026-11-26T10:00:00-08:00",
                    days_off=["2026-11-30"],
                ),
                "",
                "   ",
                _line(id=7, received_at="2026-12-05T12:00:00+01:00", extra="ignored"),
            ]
        )
        + "\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert _out(result) == [
        {"id": "open", "to_dse": True, "reason": "available", "next_available_at": None},
        {
            "id": "closing",
            "to_dse": False,
            "reason": "outside_available_hours",
            "next_available_at": "2026-12-09T17:00:00Z",
        },
        {
            "id": "limit",
            "to_dse": False,
            "reason": "monthly_limit_reached",
            "next_available_at": None,
        },
        {"id": "bought", "to_dse": True, "reason": "available", "next_available_at": None},
        {
            "id": "thanksgiving",
            "to_dse": False,
            "reason": "outside_available_hours",
            "next_available_at": "2026-12-01T17:00:00Z",  # Thu, Fri holidays; Mon off
        },
        {
            "id": 7,
            "to_dse": False,
            "reason": "outside_available_hours",
            "next_available_at": "2026-12-07T17:00:00Z",
        },
    ]


def test_the_limit_is_checked_before_the_hours() -> None:
    night = _line(received_at="2026-12-09T06:00:00Z", hours_logged_this_month=30)
    assert _out(_run(night + "\n"))[0]["reason"] == "monthly_limit_reached"


def test_bad_lines_name_their_line_and_field_and_the_run_goes_on() -> None:
    lines = [
        _line(id="good"),
        "not json",
        _line(engineer_timezone="Mars/Olympus"),
        _line(holidays="ZZ"),
        _line(received_at="2026-12-08T17:00:00"),  # no offset
        _line(hours_logged_this_month="3"),
        _line(hours_logged_this_month=...),
        _line(monthly_limit_hours=0),
        _line(days_off=["2026-12-8"]),
        _line(id=...),
        "[1, 2]",
        _line(id="last"),
    ]
    result = _run("\n".join(lines) + "\n")
    assert result.returncode == 1
    assert [row["id"] for row in _out(result)] == ["good", "last"]
    errors = result.stderr.splitlines()
    assert [e.split(":")[0] for e in errors] == [f"line {n}" for n in range(2, 12)]
    assert errors[1].startswith('line 3: "engineer_timezone"')
    assert errors[2].startswith('line 4: "holidays"')
    assert errors[3].startswith('line 5: "received_at"') and "offset" in errors[3]
    assert errors[4] == 'line 6: "hours_logged_this_month" must be a number of hours'
    assert errors[5] == 'line 7: "hours_logged_this_month" is missing'
    assert errors[6].startswith('line 8: "monthly_limit_hours"')
    assert errors[7].startswith('line 9: "days_off"[0]')
    assert errors[8] == 'line 10: "id" is missing'


def test_a_policy_without_dse_or_unreadable_exits_2(tmp_path: Path) -> None:
    no_dse = _run(_line() + "\n", policy=POLICIES / "b2b-customer-success.toml")
    assert no_dse.returncode == 2 and "[dse]" in no_dse.stderr and no_dse.stdout == ""
    assert _run("", policy=tmp_path / "missing.toml").returncode == 2
    broken = tmp_path / "broken.toml"
    broken.write_text("[dse\n", encoding="utf-8")
    assert _run("", policy=broken).returncode == 2


def test_a_window_edge_in_a_skipped_hour_opens_at_the_switch(tmp_path: Path) -> None:
    # The same policy with Available Hours from 02:30: on 8 March 2026 Los Angeles skips
    # from 02:00 to 03:00, so that day's window opens at the switch, 10:00 UTC.
    text = POLICY.read_text(encoding="utf-8").replace(
        'windows = ["09:00-17:00"]', 'windows = ["02:30-17:00"]'
    )
    text = text.replace(
        'weekdays = ["mon", "tue", "wed", "thu", "fri"]\nzone = "engineer"',
        'weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\nzone = "engineer"',
    )
    policy = tmp_path / "early.toml"
    policy.write_text(text, encoding="utf-8")
    result = _run(_line(received_at="2026-03-08T09:30:00Z") + "\n", policy=policy)
    assert result.returncode == 0, result.stderr
    assert _out(result)[0]["next_available_at"] == "2026-03-08T10:00:00Z"


def test_replay_decides_with_the_code_live_routing_uses() -> None:
    dse = load_policy(POLICY.read_text(encoding="utf-8"), str(POLICY)).dse
    assert dse is not None
    at = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)
    live = decide(
        calendar=available_calendar(
            dse.available_hours, EngineerPlace("America/Los_Angeles", "US", "CA")
        ),
        at=at,
        monthly_limit_hours=Decimal(dse.monthly_hours),
        hours_logged_this_month=Decimal("3.5"),
    )
    replayed = _out(_run(_line(received_at="2026-12-09T01:00:00Z") + "\n"))[0]
    assert replayed["reason"] == live.reason == "outside_available_hours"
    assert replayed["next_available_at"] == iso(live.next_available_at) == "2026-12-09T17:00:00Z"
