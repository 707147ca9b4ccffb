"""Read a policy file (TOML) into a `schema.Policy`, reporting every problem with its line.

The format is documented in docs/policy-format.md; keep the two in step.
"""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from difflib import get_close_matches
from functools import cache
from string import Formatter
from typing import Any, NamedTuple, TypeVar, cast, get_args

import phonenumbers

from supporthub.policies import schema
from supporthub.policies.toml_lines import KeyPath, LineIndex
from supporthub.validators import holiday_countries

T = TypeVar("T")
Check = Callable[[KeyPath, object], T | None]

ALWAYS = "24x7x365"
UNLIMITED = "unlimited"
NO_TARGET = "none"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKING_WEEK: tuple[str, ...] = WEEKDAYS[:5]
NONE: tuple[str, ...] = ()
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_TIME = re.compile(r"(\d\d):(\d\d)")
_TARGET = re.compile(r"(-?\d+)\s+([a-z][a-z ]*?)")
_UNITS: dict[str, schema.TargetUnit] = {
    "minute": "minutes",
    "minutes": "minutes",
    "hour": "hours",
    "hours": "hours",
    "business hour": "business_hours",
    "business hours": "business_hours",
    "business day": "business_days",
    "business days": "business_days",
}
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


@dataclass(frozen=True)
class PolicyIssue:
    """One problem in a policy file, at the line of the offending key or table."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class PolicyError(Exception):
    """A policy file is not valid; `errors` holds every problem found, in line order."""

    def __init__(self, errors: list[PolicyIssue]) -> None:
        super().__init__("\n".join(str(issue) for issue in errors))
        self.errors = errors


def load_policy(text: str, filename: str) -> schema.Policy:
    """Parse and validate a policy file; raise PolicyError listing all problems."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError([_syntax_issue(exc, text, filename)]) from None
    reader = _Reader(filename, LineIndex(text))
    policy = _PolicyBuilder(reader, data).build(filename)
    if reader.issues or policy is None:
        raise PolicyError(sorted(reader.issues, key=lambda issue: issue.line))
    return policy


def _syntax_issue(exc: tomllib.TOMLDecodeError, text: str, filename: str) -> PolicyIssue:
    # Python 3.11's TOMLDecodeError carries its position only inside the message.
    message = str(exc)
    match = _TOML_POSITION.search(message)
    line = int(match.group(1)) if match else max(1, text.count("\n") + 1)
    detail = _TOML_POSITION.sub("", message).replace("(at end of document)", "").strip()
    return PolicyIssue(filename, line, f"TOML syntax error: {detail}")


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a float ({value})"
    if isinstance(value, str):
        return f'a string ("{value}")'
    if isinstance(value, datetime):
        return f"a date-time ({value.isoformat()})"
    if isinstance(value, date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, time):
        return f"a time ({value.isoformat()})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            bare = part.replace("_", "").replace("-", "").isalnum()
            text = part if bare else f'"{part}"'
            out += f".{text}" if out else text
    return out


def _known(values: Iterable[object]) -> str:
    return ", ".join(str(value) for value in values)


def _suggest(word: str, candidates: list[str]) -> str:
    close = get_close_matches(word, candidates, n=1)
    return f'; did you mean "{close[0]}"?' if close else ""


class _Reader:
    """Collects issues and checks single values; each check returns None after reporting."""

    def __init__(self, filename: str, index: LineIndex) -> None:
        self.filename = filename
        self.index = index
        self.issues: list[PolicyIssue] = []

    def error(self, path: KeyPath, message: str) -> None:
        where = _dotted(path)
        text = f"{where}: {message}" if where else message
        self.issues.append(PolicyIssue(self.filename, self.index.line_of(path), text))

    def table(self, path: KeyPath, value: object) -> _Table | None:
        if not isinstance(value, dict):
            self.error(path, f"expected a table, got {_describe(value)}")
            return None
        return _Table(self, path, cast("dict[str, object]", value))

    def string(self, path: KeyPath, value: object) -> str | None:
        if not isinstance(value, str):
            self.error(path, f"expected a string, got {_describe(value)}")
            return None
        return value

    def text(self, path: KeyPath, value: object) -> str | None:
        """A string with something in it: names, descriptions."""
        result = self.string(path, value)
        if result is not None and not result.strip():
            self.error(path, "must not be empty")
            return None
        return result

    def slug(self, path: KeyPath, value: object) -> str | None:
        result = self.string(path, value)
        if result is not None and not (SLUG.fullmatch(result) and len(result) <= 64):
            self.error(
                path,
                f'"{result}" is not a key (up to 64 lower-case letters, digits, "-" and "_")',
            )
            return None
        return result

    def integer(self, path: KeyPath, value: object) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"expected an integer, got {_describe(value)}")
            return None
        return value

    def positive(self, path: KeyPath, value: object) -> int | None:
        result = self.integer(path, value)
        if result is not None and result <= 0:
            self.error(path, f"must be a positive number, got {result}")
            return None
        return result

    def non_negative(self, path: KeyPath, value: object) -> int | None:
        result = self.integer(path, value)
        if result is not None and result < 0:
            self.error(path, f"must not be negative, got {result}")
            return None
        return result

    def cap(self, path: KeyPath, value: object) -> _Cap | None:
        """A whole number >= 0, or "unlimited"."""
        if value == UNLIMITED:
            return _Cap(None)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f'expected a whole number or "{UNLIMITED}", got {_describe(value)}')
            return None
        result = self.non_negative(path, value)
        return None if result is None else _Cap(result)

    def boolean(self, path: KeyPath, value: object) -> bool | None:
        if not isinstance(value, bool):
            self.error(path, f"expected true or false, got {_describe(value)}")
            return None
        return value

    def toml_date(self, path: KeyPath, value: object) -> date | None:
        if isinstance(value, datetime) or not isinstance(value, date):
            self.error(
                path, f"expected a TOML date such as 2024-06-11 (no quotes), got {_describe(value)}"
            )
            return None
        return value

    def zone(self, path: KeyPath, value: object) -> str | None:
        result = self.string(path, value)
        if result is not None and result not in _time_zones():
            self.error(
                path,
                f'unknown time zone "{result}" (expected an IANA name such as Europe/Paris'
                f"{_suggest(result, sorted(_time_zones())).replace(';', ',')})",
            )
            return None
        return result

    def holiday_country(self, path: KeyPath, value: object) -> str | None:
        result = self.string(path, value)
        if result is not None and result not in holiday_countries():
            self.error(
                path,
                f'unknown holiday country "{result}" (expected a country code the holidays '
                "package knows, such as US, FR or DE)",
            )
            return None
        return result

    def holiday_subdivision(self, path: KeyPath, value: object, country: str) -> str | None:
        result = self.string(path, value)
        if result is None:
            return None
        known = holiday_countries().get(country, [])
        if result not in known:
            listed = ", ".join(known[:15]) + (", ..." if len(known) > 15 else "")
            self.error(
                path,
                f'unknown holiday subdivision "{result}" of {country} (known: {listed or "none"})',
            )
            return None
        return result

    def choice(self, choices: tuple[str, ...], noun: str) -> Check[str]:
        def check(path: KeyPath, value: object) -> str | None:
            result = self.string(path, value)
            if result is not None and result not in choices:
                self.error(path, f'unknown {noun} "{result}" (known: {_known(choices)})')
                return None
            return result

        return check

    def severity(self, levels: set[int]) -> Check[int]:
        def check(path: KeyPath, value: object) -> int | None:
            result = self.integer(path, value)
            if result is not None and result not in levels:
                self.error(path, f"unknown severity {result} (known: {_known(sorted(levels))})")
                return None
            return result

        return check

    def array(self, item: Check[T], *, allow_empty: bool = False) -> Check[tuple[T, ...]]:
        """An array whose items all pass `item`, without duplicates."""

        def check(path: KeyPath, value: object) -> tuple[T, ...] | None:
            if not isinstance(value, list):
                self.error(path, f"expected an array, got {_describe(value)}")
                return None
            if not value and not allow_empty:
                self.error(path, "must not be empty")
                return None
            items: list[T] = []
            ok = True
            for index, raw in enumerate(cast("list[object]", value)):
                result = item((*path, index), raw)
                if result is None:
                    ok = False
                elif result in items:
                    self.error((*path, index), f"duplicate entry {_show(result)}")
                    ok = False
                else:
                    items.append(result)
            return tuple(items) if ok else None

        return check


class _Cap(NamedTuple):
    limit: int | None  # None: unlimited


def _show(value: object) -> str:
    if isinstance(value, schema.Window):
        return f'"{value.start}-{value.end}"'
    return f'"{value}"' if isinstance(value, str) else str(value)


class _Missing:
    pass


_REQUIRED = _Missing()


class _Table:
    """A table being read: keys are taken one by one; any key never taken is unknown."""

    def __init__(self, reader: _Reader, path: KeyPath, data: dict[str, object]) -> None:
        self.reader = reader
        self.path = path
        self.data = data
        self._taken: list[str] = []
        self._missing: list[str] = []

    def has(self, key: str) -> bool:
        return key in self.data

    def take(self, key: str) -> object:
        """The raw value of `key` (or _REQUIRED when absent), checked off as known."""
        self._taken.append(key)
        return self.data.get(key, _REQUIRED)

    def get(self, key: str, check: Check[T], default: T | _Missing = _REQUIRED) -> T | None:
        self._taken.append(key)
        if key not in self.data:
            if isinstance(default, _Missing):
                self._missing.append(key)
                return None
            return default
        return check((*self.path, key), self.data[key])

    def optional(self, key: str, check: Check[T]) -> T | None:
        """A key that may be left out; None when absent or invalid."""
        self._taken.append(key)
        if key not in self.data:
            return None
        return check((*self.path, key), self.data[key])

    def subtable(self, key: str, *, required: bool = True) -> _Table | None:
        self._taken.append(key)
        if key not in self.data:
            if required:
                where = _dotted((*self.path, key))
                self.reader.error(self.path, f"missing table [{where}]")
            return None
        return self.reader.table((*self.path, key), self.data[key])

    def finish(self) -> None:
        """Report the required keys that are missing and the keys that are unknown."""
        if self._missing:
            keys = ", ".join(f'"{key}"' for key in self._missing)
            plural = "s" if len(self._missing) > 1 else ""
            self.reader.error(self.path, f"missing key{plural} {keys}")
        for key in self.data:
            if key not in self._taken:
                self.reader.error(
                    (*self.path, key),
                    f"unknown key (known: {_known(dict.fromkeys(self._taken))})"
                    + _suggest(key, self._taken),
                )

    def entries(self, check_key: Check[str] | None = None) -> list[tuple[str, _Table]]:
        """The sub-tables of a table keyed by name ([support_levels.base], ...)."""
        out = []
        for key, value in self.data.items():
            self._taken.append(key)
            path = (*self.path, key)
            if check_key is not None and check_key(path, key) is None:
                continue
            table = self.reader.table(path, value)
            if table is not None:
                out.append((key, table))
        return out


class _PolicyBuilder:
    """Reads the document top-down; cross-references use declared keys so errors don't cascade."""

    def __init__(self, reader: _Reader, data: dict[str, Any]) -> None:
        self.r = reader
        self.root = _Table(reader, (), data)
        self.severity_levels: set[int] = set()
        self.support_level_keys: list[str] = []
        self.subscription_level_keys: list[str] = []

    def build(self, filename: str) -> schema.Policy | None:
        r, root = self.r, self.root
        head = root.subtable("policy")
        severities = self._severities()
        support_levels = self._support_levels()
        subscription_levels = self._subscription_levels()
        self._targets(support_levels)
        channels = self._channels()
        regions = self._regions()
        phone = self._phone(head)
        after_hours = self._after_hours()
        exclusions = self._exclusions()
        enhancement_routes = self._enhancement_routes()
        training = self._training()
        development = self._development()
        dse = self._dse()
        root.finish()
        if head is None:
            return None
        key = head.get("key", r.slug)
        name = head.get("name", r.text)
        if name is not None and len(name) > 200:
            r.error((*head.path, "name"), f"must be at most 200 characters, not {len(name)}")
            name = None
        effective_date = head.get("effective_date", r.toml_date)
        country = head.get("holiday_country", r.holiday_country)
        subdivision = self._subdivision(head, country)
        default_severity = head.get("default_severity", r.severity(self.severity_levels))
        head.finish()
        if (
            r.issues
            or key is None
            or name is None
            or effective_date is None
            or country is None
            or default_severity is None
        ):
            return None
        phone_number, phone_hours, voicemail = phone
        return schema.Policy(
            key=key,
            name=name,
            effective_date=effective_date,
            holiday_country=country,
            holiday_subdivision=subdivision,
            severities=severities,
            default_severity=default_severity,
            subscription_levels=subscription_levels,
            support_levels=support_levels,
            channels=channels,
            regions=regions,
            phone_hours=phone_hours,
            phone_number=phone_number,
            voicemail_creates_tickets=voicemail,
            after_hours=after_hours,
            exclusions=exclusions,
            enhancement_routes=enhancement_routes,
            dse=dse,
            training=training,
            development=development,
            source=filename,
        )

    def _subdivision(self, table: _Table, country: str | None) -> str | None:
        if country is None:
            table.optional("holiday_subdivision", self.r.string)  # the country is reported
            return None
        known_country = country
        return table.optional(
            "holiday_subdivision",
            lambda path, value: self.r.holiday_subdivision(path, value, known_country),
        )

    # -- severities, levels, targets ------------------------------------------------------

    def _array_of_tables(self, key: str, *, required: bool) -> list[_Table]:
        r = self.r
        value = self.root.take(key)
        if value is _REQUIRED:
            if required:
                r.error((), f"missing [[{key}]] tables")
            return []
        if not isinstance(value, list) or not value:
            r.error((key,), f"expected one or more [[{key}]] tables, got {_describe(value)}")
            return []
        tables = [r.table((key, index), item) for index, item in enumerate(value)]
        return [table for table in tables if table is not None]

    def _severities(self) -> tuple[schema.Severity, ...]:
        r = self.r
        tables = self._array_of_tables("severities", required=True)
        # Declared levels, valid or not, so one bad entry does not fail every reference to it.
        for table in tables:
            declared = table.data.get("level")
            if isinstance(declared, int) and not isinstance(declared, bool):
                self.severity_levels.add(declared)
        out: list[schema.Severity] = []
        seen: set[int] = set()
        for table in tables:
            level = table.get("level", r.positive)
            name = table.get("name", r.text)
            description = table.get("description", r.text)
            table.finish()
            if level is not None and level in seen:
                r.error((*table.path, "level"), f"duplicate severity level {level}")
                continue
            if level is not None:
                seen.add(level)
            if level is not None and name is not None and description is not None:
                out.append(schema.Severity(level=level, name=name, description=description))
        return tuple(sorted(out, key=lambda sev: sev.level))

    def _support_levels(self) -> dict[str, schema.SupportLevel]:
        r = self.r
        table = self.root.subtable("support_levels")
        if table is None:
            return {}
        self.support_level_keys = list(table.data)
        entries = table.entries(r.slug)
        if not entries:
            r.error(table.path, "declare at least one support level")
        out: dict[str, schema.SupportLevel] = {}
        for key, level in entries:
            name = level.get("name", r.text)
            hours = self._hours(level, "hours", relative=("customer",))
            methods = level.get("methods", r.array(r.choice(schema.CHANNELS, "contact method")))
            contacts = level.get("support_contacts", r.cap)
            incidents = level.get("annual_incidents", r.cap)
            level.finish()
            if (
                name is None
                or hours is None
                or methods is None
                or contacts is None
                or incidents is None
            ):
                continue
            out[key] = schema.SupportLevel(
                key=key,
                name=name,
                hours=hours,
                methods=methods,
                support_contacts=contacts.limit,
                annual_incidents=incidents.limit,
                targets={},  # _targets fills them in: a target's unit depends on the hours
            )
        return out

    def _subscription_levels(self) -> dict[str, schema.SubscriptionLevel]:
        r = self.r
        table = self.root.subtable("subscription_levels")
        if table is None:
            return {}
        self.subscription_level_keys = list(table.data)
        entries = table.entries(r.slug)
        if not entries:
            r.error(table.path, "declare at least one subscription level")
        out: dict[str, schema.SubscriptionLevel] = {}
        for key, sub in entries:
            name = sub.get("name", r.text)
            support_level = sub.get("support_level", self._support_level_ref)
            sub.finish()
            if name is not None and support_level is not None:
                out[key] = schema.SubscriptionLevel(key=key, name=name, support_level=support_level)
        return out

    def _support_level_ref(self, path: KeyPath, value: object) -> str | None:
        result = self.r.string(path, value)
        if result is not None and result not in self.support_level_keys:
            self.r.error(
                path,
                f'unknown support level "{result}" (known: {_known(self.support_level_keys)})',
            )
            return None
        return result

    def _targets(self, support_levels: dict[str, schema.SupportLevel]) -> None:
        """Read [targets] into the support levels (replacing them; they are frozen)."""
        r = self.r
        table = self.root.subtable("targets")
        if table is None:
            return
        for key in list(table.data):
            path: KeyPath = (*table.path, key)
            table.take(key)
            if key not in self.support_level_keys:
                r.error(
                    path,
                    f'unknown support level "{key}" (known: {_known(self.support_level_keys)})',
                )
                continue
            row = r.table(path, table.data[key])
            if row is None:
                continue
            level = support_levels.get(key)
            targets: dict[int, schema.Target | None] = {}
            for severity_key, value in row.data.items():
                row.take(severity_key)
                target_path: KeyPath = (*path, severity_key)
                if not severity_key.isdigit() or int(severity_key) not in self.severity_levels:
                    r.error(
                        target_path,
                        f'unknown severity "{severity_key}" '
                        f"(known: {_known(sorted(self.severity_levels))})",
                    )
                    continue
                target = self._target(target_path, value, level)
                if not isinstance(target, _Missing):
                    targets[int(severity_key)] = target
            for severity in sorted(
                self.severity_levels - {int(k) for k in row.data if k.isdigit()}
            ):
                r.error(
                    path,
                    f'no target for severity {severity} (write {severity} = "{NO_TARGET}" '
                    "if the policy states none)",
                )
            if level is not None:
                support_levels[key] = replace(level, targets=dict(sorted(targets.items())))
        for key in self.support_level_keys:
            if key not in table.data:
                r.error(table.path, f'missing targets for support level "{key}"')

    def _target(
        self, path: KeyPath, value: object, level: schema.SupportLevel | None
    ) -> schema.Target | None | _Missing:
        """A target such as "30 minutes"; "none" (None) where the policy states no target."""
        r = self.r
        text = r.string(path, value)
        if text is None:
            return _REQUIRED
        if text.strip() == NO_TARGET:
            return None
        match = _TARGET.fullmatch(text.strip())
        if match is None:
            r.error(
                path,
                f'"{text}" is not a target: write an amount and a unit, such as "30 minutes" '
                f'or "1 business day", or "{NO_TARGET}"',
            )
            return _REQUIRED
        amount, unit_text = int(match.group(1)), match.group(2)
        unit = _UNITS.get(unit_text)
        if unit is None:
            units = ", ".join(sorted({u for u in _UNITS if u.endswith("s")}))
            r.error(path, f'unknown unit "{unit_text}" in "{text}" (known: {units})')
            return _REQUIRED
        if amount <= 0:
            r.error(path, f'"{text}": the amount must be positive')
            return _REQUIRED
        if unit in ("minutes", "hours") and level is not None and not level.hours.always:
            # Elapsed time is defined only on 24x7x365 levels (SPEC 2): make the author choose.
            r.error(
                path,
                f'"{text}" is elapsed time, which only {ALWAYS} levels use; support level '
                f'"{level.key}" keeps business hours, so write business hours or business days',
            )
            return _REQUIRED
        return schema.Target(amount=amount, unit=unit)

    # -- hours ------------------------------------------------------------------------------

    def _hours(
        self,
        owner: _Table,
        key: str,
        *,
        relative: tuple[schema.ZoneOf, ...],
        always_ok: bool = True,
    ) -> schema.Hours | None:
        """Hours of operation: "24x7x365", or a table of windows, weekdays and zone."""
        r = self.r
        path: KeyPath = (*owner.path, key)
        value = owner.data.get(key)
        if value is None:
            owner.take(key)
            expected = f'"{ALWAYS}" or a table' if always_ok else "a table"
            r.error(owner.path, f'missing key "{key}" ({expected} of windows, weekdays and zone)')
            return None
        if isinstance(value, str):
            owner.take(key)
            if value == ALWAYS and always_ok:
                return schema.Hours(always=True)
            expected = f'"{ALWAYS}" or a table' if always_ok else "a table"
            r.error(path, f'expected {expected} of windows, weekdays and zone, got "{value}"')
            return None
        table = owner.subtable(key)
        if table is None:
            return None
        windows = table.get("windows", r.array(self._window))
        weekdays = table.get("weekdays", r.array(r.choice(WEEKDAYS, "weekday")), WORKING_WEEK)
        zone = table.get("zone", self._zone_or(relative))
        table.finish()
        if windows is not None:
            ordered = sorted(windows, key=lambda w: w.start)
            for before, after in zip(ordered, ordered[1:], strict=False):
                if after.start < before.end:
                    r.error(
                        (*path, "windows"),
                        f"windows {before.start}-{before.end} and {after.start}-{after.end} "
                        "overlap",
                    )
                    windows = None
                    break
        if windows is None or weekdays is None or zone is None:
            return None
        relative_zone = zone in relative
        return schema.Hours(
            always=False,
            windows=tuple(sorted(windows, key=lambda w: w.start)),
            weekdays=tuple(sorted(WEEKDAYS.index(day) for day in weekdays)),
            zone=None if relative_zone else zone,
            zone_of=cast(schema.ZoneOf, zone) if relative_zone else "customer",
        )

    def _zone_or(self, relative: tuple[schema.ZoneOf, ...]) -> Check[str]:
        def check(path: KeyPath, value: object) -> str | None:
            if value in relative:
                return cast(str, value)
            if value in get_args(schema.ZoneOf):
                allowed = "".join(f'"{name}" or ' for name in relative)
                self.r.error(
                    path, f'"{value}" is not allowed here: write {allowed}an IANA zone name'
                )
                return None
            return self.r.zone(path, value)

        return check

    def _window(self, path: KeyPath, value: object) -> schema.Window | None:
        r = self.r
        text = r.string(path, value)
        if text is None:
            return None
        start, dash, end = text.partition("-")
        problem = _time_problem(start.strip(), end_ok=False) or _time_problem(
            end.strip(), end_ok=True
        )
        if not dash or problem:
            r.error(
                path,
                f'"{text}" is not a window "HH:MM-HH:MM" on a 24-hour clock'
                + (f" ({problem})" if problem else ""),
            )
            return None
        start, end = start.strip(), end.strip()
        if start >= end:
            r.error(path, f'"{text}": the window must end after it starts')
            return None
        return schema.Window(start=start, end=end)

    # -- channels, regions, phone, after hours ------------------------------------------------

    def _channels(self) -> dict[str, schema.ChannelRule]:
        r = self.r
        table = self.root.subtable("channels", required=False)
        if table is None:
            return {}
        severity = r.severity(self.severity_levels)
        out: dict[str, schema.ChannelRule] = {}
        for key, rule in table.entries(r.choice(schema.CHANNELS, "channel")):
            allowed = rule.get("allowed_severities", r.array(severity, allow_empty=True))
            forced = rule.optional("forced_severity", severity)
            message = rule.get("message", r.string, "")
            rule.finish()
            if (
                allowed is None
                or message is None
                or (rule.has("forced_severity") and forced is None)
            ):
                continue
            if forced is not None and forced not in allowed:
                r.error(
                    (*rule.path, "forced_severity"),
                    f"severity {forced} is not among allowed_severities ({_known(allowed)})",
                )
                continue
            out[key] = schema.ChannelRule(
                channel=cast(schema.Channel, key),
                allowed_severities=tuple(sorted(allowed)),
                forced_severity=forced,
                message=message,
            )
        return out

    def _regions(self) -> tuple[schema.Region, ...]:
        r = self.r
        table = self.root.subtable("regions", required=False)
        if table is None:
            return ()
        out: list[schema.Region] = []
        for key, region in table.entries(r.slug):
            name = region.get("name", r.text)
            hours = self._hours(region, "hours", relative=(), always_ok=False)
            country = region.get("holiday_country", r.holiday_country)
            subdivision = self._subdivision(region, country)
            region.finish()
            if name is not None and hours is not None and country is not None:
                out.append(
                    schema.Region(
                        key=key,
                        name=name,
                        hours=hours,
                        holiday_country=country,
                        holiday_subdivision=subdivision,
                    )
                )
        return tuple(out)

    def _phone(self, head: _Table | None) -> tuple[str, schema.Hours | None, bool]:
        r = self.r
        table = self.root.subtable("phone", required=False)
        if table is None:
            return "", None, False
        number = table.get("number", r.text)
        hours = self._hours(table, "hours", relative=(), always_ok=True)
        voicemail = table.get("voicemail_creates_tickets", r.boolean, False)
        table.finish()
        if number is not None:
            region = head.data.get("holiday_country") if head is not None else None
            try:
                parsed = phonenumbers.parse(number, region if isinstance(region, str) else None)
                valid = phonenumbers.is_valid_number(parsed)
            except phonenumbers.NumberParseException:
                valid = False
            if not valid:
                r.error((*table.path, "number"), f'"{number}" is not a valid phone number')
        return number or "", hours, bool(voicemail)

    def _after_hours(self) -> tuple[schema.AfterHoursRule, ...]:
        r = self.r
        out: list[schema.AfterHoursRule] = []
        for rule in self._array_of_tables("after_hours", required=False):
            severities = rule.get("severities", r.array(r.severity(self.severity_levels)))
            notify = rule.get("notify", r.array(r.choice(schema.STAFF_ROLES, "role")))
            rule.finish()
            if severities is not None and notify is not None:
                out.append(
                    schema.AfterHoursRule(severities=tuple(sorted(severities)), notify=notify)
                )
        return tuple(out)

    # -- exclusions, enhancements, training, development --------------------------------------

    def _exclusions(self) -> tuple[schema.Exclusion, ...]:
        r = self.r
        table = self.root.subtable("exclusions", required=False)
        if table is None:
            return ()
        out: list[schema.Exclusion] = []
        for key, exclusion in table.entries(r.slug):
            name = exclusion.get("name", r.text)
            description = exclusion.get("description", r.text)
            exclusion.finish()
            if name is not None and description is not None:
                out.append(schema.Exclusion(key=key, name=name, description=description))
        return tuple(out)

    def _enhancement_routes(self) -> tuple[schema.EnhancementRoute, ...]:
        r = self.r
        table = self.root.subtable("enhancement_routes", required=False)
        if table is None:
            return ()
        role = r.choice(schema.STAFF_ROLES, "role")
        out: list[schema.EnhancementRoute] = []
        for key, route in table.entries(r.slug):
            name = route.get("name", r.text)
            description = route.get("description", r.text)
            engaged_by = route.optional("engaged_by", role)
            route_to = route.get("route_to", r.array(role))
            occasionally = route.get("occasionally", r.array(role, allow_empty=True), NONE)
            examples = route.get("examples", r.array(r.text, allow_empty=True), NONE)
            sees = route.get("customer_sees_decision", r.boolean, False)
            route.finish()
            if route.has("engaged_by") and engaged_by is None:
                continue
            if None in (name, description, route_to, occasionally, examples, sees):
                continue
            out.append(
                schema.EnhancementRoute(
                    key=key,
                    name=cast(str, name),
                    description=cast(str, description),
                    route_to=cast("tuple[str, ...]", route_to),
                    customer_sees_decision=bool(sees),
                    engaged_by=engaged_by,
                    occasionally=cast("tuple[str, ...]", occasionally),
                    examples=cast("tuple[str, ...]", examples),
                )
            )
        return tuple(out)

    def _training(self) -> tuple[schema.TrainingOption, ...]:
        r = self.r
        table = self.root.subtable("training", required=False)
        if table is None:
            return ()
        role = r.choice(schema.STAFF_ROLES, "role")
        out: list[schema.TrainingOption] = []
        for key, option in table.entries(r.slug):
            name = option.get("name", r.text)
            description = option.get("description", r.text)
            route_to = option.get("route_to", r.array(role, allow_empty=True), NONE)
            option.finish()
            if name is not None and description is not None and route_to is not None:
                out.append(
                    schema.TrainingOption(
                        key=key, name=name, description=description, route_to=route_to
                    )
                )
        return tuple(out)

    def _development(self) -> schema.DevelopmentTickets | None:
        r = self.r
        table = self.root.subtable("development", required=False)
        if table is None:
            return None
        notes = table.get("note_on_each_move", r.boolean)
        resolve = table.get("resolve_on_production", r.boolean)
        stage = r.choice(schema.DEVELOPMENT_STAGES, "stage")
        labels = self._string_map(table, "github_labels", r.string, stage)
        statuses = self._string_map(table, "jira_statuses", r.string, stage)
        templates = self._string_map(table, "notes", stage, self._note_template)
        table.finish()
        if notes is None or resolve is None:
            return None
        return schema.DevelopmentTickets(
            note_on_each_move=notes,
            resolve_on_production=resolve,
            github_labels={key.lower(): value for key, value in labels.items()},
            jira_statuses={key.lower(): value for key, value in statuses.items()},
            notes=templates,
        )

    def _string_map(
        self, table: _Table, key: str, check_key: Check[str], check_value: Check[str]
    ) -> dict[str, str]:
        """A table of strings ([development.jira_statuses]); bad keys or values are errors."""
        sub = table.subtable(key, required=False)
        if sub is None:
            return {}
        out = {}
        for name in list(sub.data):
            path = (*sub.path, name)
            value = check_value(path, sub.take(name))
            if check_key(path, name) is not None and value is not None:
                out[name] = value
        return out

    def _note_template(self, path: KeyPath, value: object) -> str | None:
        text = self.r.text(path, value)
        if text is None:
            return None
        try:
            names = [field for _, field, _, _ in Formatter().parse(text) if field is not None]
        except ValueError as exc:
            self.r.error(path, f"not a valid note template: {exc}")
            return None
        unknown = [name for name in names if name not in schema.DEVELOPMENT_NOTE_FIELDS]
        if unknown:
            self.r.error(
                path,
                f"unknown field {{{unknown[0]}}} in the note "
                f"(known: {_known(schema.DEVELOPMENT_NOTE_FIELDS)})",
            )
            return None
        return text

    # -- Designated Support Engineer -----------------------------------------------------------

    def _dse(self) -> schema.DseAddon | None:
        r = self.r
        table = self.root.subtable("dse", required=False)
        if table is None:
            return None
        name = table.get("name", r.text)
        skus = table.get("skus", r.array(r.text))
        levels = table.get("subscription_levels", r.array(self._subscription_level_ref))
        terms = table.get(
            "billing_terms", r.array(r.choice(get_args(schema.BillingTerm), "billing term"))
        )
        min_term = table.get("min_term_months", r.positive)
        max_term = table.get("max_term_months", r.positive)
        monthly_hours = table.get("monthly_hours", r.positive)
        admin_days = table.get("administrative_days_per_year", r.non_negative)
        hours = self._hours(table, "available_hours", relative=("engineer",), always_ok=False)
        auto_renew = table.get("auto_renew", r.boolean, False)
        carry_over = table.get("unused_hours_carry_over", r.boolean, False)
        no_items: tuple[str, ...] = ()
        out_of_scope = table.get("out_of_scope", r.array(r.text, allow_empty=True), no_items)
        table.finish()
        if min_term is not None and max_term is not None and min_term > max_term:
            r.error(
                (*table.path, "min_term_months"),
                f"minimum term ({min_term} months) is longer than the maximum ({max_term} months)",
            )
            return None
        if (
            name is None
            or skus is None
            or levels is None
            or terms is None
            or min_term is None
            or max_term is None
            or monthly_hours is None
            or admin_days is None
            or hours is None
            or auto_renew is None
            or carry_over is None
            or out_of_scope is None
        ):
            return None
        return schema.DseAddon(
            name=name,
            skus=skus,
            subscription_levels=levels,
            billing_terms=cast("tuple[schema.BillingTerm, ...]", terms),
            min_term_months=min_term,
            max_term_months=max_term,
            monthly_hours=monthly_hours,
            administrative_days_per_year=admin_days,
            available_hours=hours,
            auto_renew=auto_renew,
            unused_hours_carry_over=carry_over,
            out_of_scope=out_of_scope,
        )

    def _subscription_level_ref(self, path: KeyPath, value: object) -> str | None:
        result = self.r.string(path, value)
        if result is not None and result not in self.subscription_level_keys:
            self.r.error(
                path,
                f'unknown subscription level "{result}" '
                f"(known: {_known(self.subscription_level_keys)})",
            )
            return None
        return result


def _time_problem(text: str, *, end_ok: bool) -> str:
    """Why `text` is not an "HH:MM" time ("24:00" only as an end), or "" if it is one."""
    match = _TIME.fullmatch(text)
    if match is None:
        return f'"{text}" is not HH:MM'
    hour, minute = int(match.group(1)), int(match.group(2))
    if (hour, minute) == (24, 0):
        return "" if end_ok else "24:00 can only end a window"
    if hour > 23 or minute > 59:
        return f'"{text}" is not a time of day'
    return ""
