"""`supporthub sla replay` (what-if against a policy file) and `supporthub sla retime`."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from supporthub.policies.loader import PolicyError, load_policy
from supporthub.sla.replay import replay
from supporthub.sla.services import retime_open_tickets


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

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "replay":
            self._replay(Path(options["policy"]), options["input"])
        else:
            ids = options["organisation"]
            result = retime_open_tickets(organisation_ids=ids, reason="supporthub sla retime")
            self.stdout.write(
                f"{result.examined} running clock(s) examined, {result.retimed} re-timed"
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
