"""`supporthub dse replay --policy FILE [INPUT|-]`: the Designated Support Engineer routing
what-if (see supporthub.dse.replay)."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from supporthub.dse.replay import replay
from supporthub.policies.loader import PolicyError, load_policy


class Command(BaseCommand):
    help = "Designated Support Engineer: replay cases against a policy's routing rules."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        rp = sub.add_parser(
            "replay",
            help="Read JSON lines of cases and write whether each goes to the DSE, and why.",
        )
        rp.add_argument("--policy", required=True, help="a policy TOML file with a [dse] table")
        rp.add_argument("input", nargs="?", default="-", help="JSON lines file, or - for stdin")

    def handle(self, *args: Any, **options: Any) -> None:
        policy_path = Path(options["policy"])
        try:
            policy = load_policy(policy_path.read_text(encoding="utf-8"), str(policy_path))
        except OSError as exc:
            raise CommandError(f"{policy_path}: {exc.strerror}", returncode=2) from None
        except UnicodeDecodeError:
            raise CommandError(f"{policy_path}: not UTF-8 text", returncode=2) from None
        except PolicyError as exc:
            for issue in exc.errors:
                sys.stderr.write(f"{issue}\n")
            raise CommandError(f"{policy_path} is not a valid policy", returncode=2) from None
        if policy.dse is None:
            raise CommandError(
                f"{policy_path}: the policy has no [dse] table (no Designated Support Engineer)",
                returncode=2,
            )
        source = options["input"]
        if source == "-":
            failures = replay(policy.dse, sys.stdin, sys.stdout, sys.stderr)
        else:
            try:
                with open(source, encoding="utf-8") as lines:
                    failures = replay(policy.dse, lines, sys.stdout, sys.stderr)
            except OSError as exc:
                raise CommandError(f"{source}: {exc.strerror}", returncode=2) from None
        sys.stdout.flush()
        if failures:
            sys.exit(1)
