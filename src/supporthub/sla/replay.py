"""The what-if tool: replay past tickets (JSON lines) against a policy, with no database."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TextIO

from django.core.exceptions import ValidationError

from supporthub.policies import schema
from supporthub.sla import clocks
from supporthub.sla.clocks import iso
from supporthub.validators import holiday_countries, validate_time_zone


class LineError(ValueError):
    """One input line cannot be replayed; the message names the field at fault."""


@dataclass(frozen=True)
class Outcome:
    id: Any
    level: str
    severity: int
    due_at: datetime | None
    met: bool | None


def read_instant(record: dict[str, Any], field: str) -> datetime:
    """An aware ISO 8601 instant; LineError naming `field` otherwise."""
    raw = record.get(field)
    if not isinstance(raw, str):
        raise LineError(f'"{field}" must be an ISO 8601 string')
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise LineError(f'"{field}": {raw!r} is not ISO 8601') from None
    if value.tzinfo is None:
        raise LineError(f'"{field}": {raw!r} has no UTC offset (add Z or +hh:mm)')
    return value


def read_holidays(record: dict[str, Any]) -> tuple[str, str | None]:
    """`holidays`: a country code, optionally `CC-SUBDIV`, that the holidays package knows."""
    raw = record.get("holidays")
    if not isinstance(raw, str) or not raw:
        raise LineError('"holidays" must be a country code such as "US" or "US-CA"')
    country, _, subdivision = raw.partition("-")
    known = holiday_countries()
    if country not in known:
        raise LineError(f'"holidays": no national holidays are known for country {country!r}')
    if subdivision and subdivision not in known[country]:
        raise LineError(f'"holidays": {subdivision!r} is not a subdivision of {country}')
    return country, subdivision or None


def read_zone(record: dict[str, Any], field: str) -> str:
    """An IANA zone name; LineError naming `field` otherwise."""
    zone = record.get(field)
    if not isinstance(zone, str):
        raise LineError(f'"{field}" must be an IANA zone name')
    try:
        validate_time_zone(zone)
    except ValidationError as exc:
        raise LineError(f'"{field}": {" ".join(exc.messages)}') from None
    return zone


def replay_record(policy: schema.Policy, record: Any) -> Outcome:
    if not isinstance(record, dict):
        raise LineError("expected a JSON object")
    if "id" not in record:
        raise LineError('"id" is missing')
    level_key = record.get("level")
    if level_key not in policy.support_levels:
        raise LineError(
            f'"level": {level_key!r} is not a support level of {policy.key} '
            f"(known: {', '.join(policy.support_levels)})"
        )
    level = policy.support_levels[level_key]
    severity = record.get("severity")
    if isinstance(severity, bool) or not isinstance(severity, int):
        raise LineError('"severity" must be an integer')
    if severity not in {s.level for s in policy.severities}:
        known = ", ".join(str(s.level) for s in policy.severities)
        raise LineError(f'"severity": {severity} is not a severity of {policy.key} ({known})')
    opened_at = read_instant(record, "opened_at")
    zone = read_zone(record, "timezone")
    country, subdivision = read_holidays(record)
    responded = (
        read_instant(record, "first_response_at")
        if record.get("first_response_at") is not None
        else None
    )
    target = level.targets.get(severity)
    if target is None:
        return Outcome(record["id"], level_key, severity, None, None)
    calendar = clocks.CalendarKey(
        hours=level.hours,
        zone=level.hours.zone or zone,
        holiday_country=country,
        holiday_subdivision=subdivision,
        closures=frozenset[date](),
    )
    due = clocks.due_at(calendar, target, opened_at)
    met = None if responded is None else responded <= due
    return Outcome(record["id"], level_key, severity, due, met)


def replay(policy: schema.Policy, lines: Iterable[str], out: TextIO, err: TextIO) -> int:
    """Write one JSON line per input line and a summary on `err`; return the failure count."""
    failures = 0
    count = 0
    met: Counter[tuple[str, int]] = Counter()
    answered: Counter[tuple[str, int]] = Counter()
    seen: Counter[tuple[str, int]] = Counter()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        count += 1
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LineError(f"not JSON: {exc.msg} at column {exc.colno}") from None
            outcome = replay_record(policy, record)
        except LineError as exc:
            failures += 1
            err.write(f"line {number}: {exc}\n")
            continue
        key = (outcome.level, outcome.severity)
        seen[key] += 1
        if outcome.met is not None:
            answered[key] += 1
            met[key] += outcome.met
        out.write(
            json.dumps({"id": outcome.id, "due_at": iso(outcome.due_at), "met": outcome.met}) + "\n"
        )
    err.write(f"replayed {count} line(s): {count - failures} ok, {failures} failed\n")
    order = {key: i for i, key in enumerate(policy.support_levels)}
    for level_key, severity in sorted(seen, key=lambda k: (order.get(k[0], 99), k[1])):
        key = (level_key, severity)
        name = policy.severity(severity).name
        if answered[key]:
            share = 100.0 * met[key] / answered[key]
            line = f"{met[key]}/{answered[key]} met ({share:.1f}%)"
        else:
            line = "no first responses"
        waiting = seen[key] - answered[key]
        extra = f", {waiting} without a first response" if waiting else ""
        err.write(f"  {level_key:<12} {name:<20} {seen[key]:>6} ticket(s): {line}{extra}\n")
    return failures
