"""`supporthub sla replay` (what-if), `sla retime`, `sla closures-import FILE.ics`, and
`sla scan` (the breach scan, once or in a loop)."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from supporthub.businesstime import ICalendarError
from supporthub.customers.models import Organisation
from supporthub.policies.loader import PolicyError, load_policy
from supporthub.sla.closures import closures_import_ical
from supporthub.sla.replay import replay
from supporthub.sla.retiming import retime_open_tickets
from supporthub.sla.warnings import breach_scan
from supporthub.worker import loop as run_loop


class Command(BaseCommand):
    help = "SLA clocks: replay past tickets against a policy, or re-time open tickets."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        rp = sub.add_parser(
            "replay",
            help="Read JSON lines of tickets and write their due instants under a policy.",
        )
        rp.add_argument("--policy", required=True, help="a policy TOML file")
        rp.add_argument("input", nargs="?", default="-", help="JSON lines file, or - for stdin")
        rt = sub.add_parser("retime", help="Re-derive the due instant of every running clock.")
        rt.add_argument("--organisation", type=int, action="append", help="organisation id")
        sc = sub.add_parser(
            "scan", help="Send the breach warnings that are due (the worker runs this too)."
        )
        sc.add_argument("--loop", action="store_true", help="scan again and again until stopped")
        sc.add_argument(
            "--every",
            type=float,
            default=None,
            help="seconds between scans with --loop (default: SLA_SCAN_EVERY)",
        )
        ci = sub.add_parser(
            "closures-import",
            help="Add the days an iCalendar (.ics) file closes as closures; re-times tickets.",
        )
        ci.add_argument("file", help="an iCalendar file")
        scope = ci.add_mutually_exclusive_group(required=True)
        scope.add_argument("--holiday-country", help="close these days for a holiday country")
        scope.add_argument("--organisation", help="close these days for one organisation (name)")
        ci.add_argument("--from", dest="start", help="first date (default: 1 January this year)")
        ci.add_argument("--to", dest="end", help="last date (default: 31 December next year)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "replay":
            self._replay(Path(options["policy"]), options["input"])
        elif options["action"] == "closures-import":
            self._closures_import(options)
        elif options["action"] == "scan":
            self._scan(
                loop=options["loop"], every=options["every"], chatty=options["verbosity"] > 1
            )
        else:
            ids = options["organisation"]
            result = retime_open_tickets(organisation_ids=ids, reason="supporthub sla retime")
            self.stdout.write(
                f"{result.examined} running clock(s) examined, {result.retimed} re-timed"
            )

    def _scan(self, *, loop: bool, every: float | None, chatty: bool) -> None:
        pause = settings.SLA_SCAN_EVERY if every is None else every
        if pause <= 0:
            raise CommandError("--every: must be a positive number of seconds", returncode=2)

        def scan() -> bool:
            result = breach_scan()
            if result.due or not loop or chatty:  # a loop reports only scans that found work
                self.stdout.write(
                    f"{result.due} due, {result.warnings} warning(s), {result.breaches} "
                    f"breach(es) notified, {result.escalated} escalated"
                )
                self.stdout.flush()
            return False  # a scan takes everything due: the next one waits its pause

        run_loop(scan, pause=pause, once=not loop)

    def _closures_import(self, options: dict[str, Any]) -> None:
        today = timezone.localdate()
        try:
            start = date.fromisoformat(options["start"]) if options["start"] else None
            end = date.fromisoformat(options["end"]) if options["end"] else None
        except ValueError as exc:
            raise CommandError(f"--from/--to: {exc}; use YYYY-MM-DD", returncode=2) from None
        organisation = None
        if options["organisation"]:
            organisation = Organisation.objects.filter(name=options["organisation"]).first()
            if organisation is None:
                raise CommandError(
                    f"--organisation: no organisation named {options['organisation']!r}",
                    returncode=2,
                )
        path = Path(options["file"])
        try:
            data = path.read_bytes()
            done = closures_import_ical(
                data=data,
                start=start or date(today.year, 1, 1),
                end=end or date(today.year + 1, 12, 31),
                holiday_country=(options["holiday_country"] or "").upper(),
                organisation=organisation,
            )
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}", returncode=2) from None
        except ICalendarError as exc:
            raise CommandError(f"{path}: {exc}", returncode=1) from None
        except ValidationError as exc:
            raise CommandError(f"{path}: {'; '.join(exc.messages)}", returncode=1) from None
        self.stdout.write(
            f"{done.added} closure(s) added, {done.already_there} already there; "
            f"{done.retime.examined} running clock(s) examined, {done.retime.retimed} re-timed"
        )

    def _replay(self, policy_path: Path, source: str) -> None:
        try:
            policy = load_policy(policy_path.read_text(encoding="utf-8"), str(policy_path))
        except OSError as exc:
            raise CommandError(f"{policy_path}: {exc.strerror}", returncode=2) from None
        except PolicyError as exc:
            for issue in exc.errors:
                sys.stderr.write(f"{issue}\n")
            raise CommandError(f"{policy_path} is not a valid policy", returncode=2) from None
        if source == "-":
            failures = replay(policy, sys.stdin, sys.stdout, sys.stderr)
        else:
            try:
                with open(source, encoding="utf-8") as lines:
                    failures = replay(policy, lines, sys.stdout, sys.stderr)
            except OSError as exc:
                raise CommandError(f"{source}: {exc.strerror}", returncode=2) from None
        sys.stdout.flush()
        if failures:
            sys.exit(1)
