"""`supporthub sla replay` on the shipped cloud-support policy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from django.conf import settings

POLICY = Path(settings.SRC_DIR).parent.parent / "examples" / "policies" / "cloud-support.toml"


def _run(lines: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-m", "supporthub", "sla", "replay", "--policy", str(POLICY), *args],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _line(**fields: object) -> str:
    base: dict[str, object] = {
        "id": 1,
        "level": "base",
        "severity": 2,
        "opened_at": "2025-03-03T08:00:00-05:00",
        "timezone": "America/New_York",
        "holidays": "US",
    }
    base.update(fields)
    return json.dumps(base)


def test_replay_writes_due_and_met_per_line_and_a_summary() -> None:
    result = _run(
        [
            _line(id="a", first_response_at="2025-03-03T22:59:00Z"),
            _line(id="b", first_response_at="2025-03-03T23:00:01Z"),
            _line(id="c"),
            _line(id="d", level="premium", severity=1, opened_at="2025-03-08T23:50:00-05:00"),
        ]
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [
        {"id": "a", "due_at": "2025-03-03T23:00:00Z", "met": True},
        {"id": "b", "due_at": "2025-03-03T23:00:00Z", "met": False},
        {"id": "c", "due_at": "2025-03-03T23:00:00Z", "met": None},
        {"id": "d", "due_at": "2025-03-09T05:20:00Z", "met": None},
    ]
    assert "replayed 4 line(s): 4 ok, 0 failed" in result.stderr
    assert "1/2 met (50.0%), 1 without a first response" in result.stderr


def test_a_bad_line_is_reported_by_number_and_the_run_goes_on() -> None:
    result = _run(
        [
            _line(id=1),
            "{not json",
            _line(id=3, level="gold"),
            _line(id=4, severity=9),
            _line(id=5, opened_at="2025-03-03T08:00:00"),
            _line(id=6, timezone="Mars/Olympus"),
            _line(id=7, holidays="US-XX"),
            _line(id=8),
        ]
    )
    assert result.returncode == 1
    assert [json.loads(x)["id"] for x in result.stdout.splitlines()] == [1, 8]
    err = result.stderr
    assert "line 2: not JSON" in err
    assert "line 3: \"level\": 'gold' is not a support level" in err
    assert 'line 4: "severity": 9 is not a severity' in err
    assert 'line 5: "opened_at"' in err and "no UTC offset" in err
    assert "line 6: \"timezone\": 'Mars/Olympus'" in err
    assert "line 7: \"holidays\": 'XX' is not a subdivision of US" in err
    assert "replayed 8 line(s): 2 ok, 6 failed" in err


def test_replay_reads_a_file_argument(tmp_path: Path) -> None:
    source = tmp_path / "tickets.jsonl"
    source.write_text(_line(id="x", holidays="US-CA") + "\n")
    result = _run([], str(source))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["due_at"] == "2025-03-03T23:00:00Z"
