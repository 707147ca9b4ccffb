"""`supporthub dse replay`: what live routing would decide for each case, from JSON lines,
with no database (the same `dse.availability.decide` and Available Hours as live routing)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any, TextIO

from supporthub.dse.availability import Decision, EngineerPlace, available_calendar, decide
from supporthub.policies import schema
from supporthub.sla.clocks import iso
from supporthub.sla.replay import LineError, read_holidays, read_instant, read_zone


def _days_off(record: dict[str, Any]) -> frozenset[date]:
    raw = record.get("days_off", [])
    if not isinstance(raw, list):
        raise LineError('"days_off" must be a list of dates "YYYY-MM-DD"')
    days = set()
    for index, item in enumerate(raw):
        try:
            if not isinstance(item, str) or len(item) != 10:
                raise ValueError
            days.add(date.fromisoformat(item))
        except ValueError:
            raise LineError(f'"days_off"[{index}]: {item!r} is not a date "YYYY-MM-DD"') from None
    return frozenset(days)


def _hours(record: dict[str, Any], field: str, *, positive: bool) -> Decimal:
    raw = record.get(field)
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise LineError(f'"{field}" must be a number of hours')
    value = Decimal(raw)
    if value < 0 or (positive and value == 0):
        raise LineError(f'"{field}": {raw} must be {"more than" if positive else "at least"} 0')
    return value


def replay_record(dse: schema.DseAddon, record: Any) -> tuple[Any, Decision]:
    """The id of one input record and the decision for it; LineError names a bad field."""
    if not isinstance(record, dict):
        raise LineError("expected a JSON object")
    for field in ("id", "engineer_timezone", "holidays", "received_at"):
        if field not in record:
            raise LineError(f'"{field}" is missing')
    if "hours_logged_this_month" not in record:
        raise LineError('"hours_logged_this_month" is missing')
    zone = read_zone(record, "engineer_timezone")
    country, subdivision = read_holidays(record)
    days_off = _days_off(record)
    received_at = read_instant(record, "received_at")
    if record.get("monthly_limit_hours") is None:
        limit = Decimal(dse.monthly_hours)
    else:
        limit = _hours(record, "monthly_limit_hours", positive=True)
    logged = _hours(record, "hours_logged_this_month", positive=False)
    calendar = available_calendar(
        dse.available_hours, EngineerPlace(zone, country, subdivision), days_off
    )
    decision = decide(
        calendar=calendar,
        at=received_at,
        monthly_limit_hours=limit,
        hours_logged_this_month=logged,
    )
    return record["id"], decision


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def replay(dse: schema.DseAddon, lines: Iterable[str], out: TextIO, err: TextIO) -> int:
    """Write one JSON line per good input line, an error per bad one; the failure count."""
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            try:
                record = json.loads(line, parse_float=Decimal, parse_constant=_no_constants)
            except json.JSONDecodeError as exc:
                raise LineError(f"not JSON: {exc.msg} at column {exc.colno}") from None
            except ValueError as exc:
                raise LineError(f"not JSON: {exc}") from None
            identifier, decision = replay_record(dse, record)
        except LineError as exc:
            failures += 1
            err.write(f"line {number}: {exc}\n")
            continue
        out.write(
            json.dumps(
                {
                    "id": _plain(identifier),
                    "to_dse": decision.to_dse,
                    "reason": decision.reason,
                    "next_available_at": iso(decision.next_available_at),
                }
            )
            + "\n"
        )
    return failures


def _plain(value: Any) -> Any:
    """The id as it came (a Decimal read from a JSON number goes back as that number)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
