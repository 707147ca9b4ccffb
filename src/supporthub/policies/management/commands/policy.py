"""`supporthub policy check|load|list`: validate, store and list policy file versions."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from supporthub.policies.loader import PolicyError, PolicyIssue, load_policy


class Command(BaseCommand):
    help = "Check a policy file, load it as a new version, or list the loaded versions."
    # `check` must run without a database, so Django's system checks are not forced on it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{check,load,list}")
        check = sub.add_parser("check", help="Validate a policy file; print every error.")
        check.add_argument("file", help="a policy TOML file")
        load = sub.add_parser("load", help="Store a policy file as a new version.")
        load.add_argument("file", help="a policy TOML file")
        sub.add_parser("list", help="List the loaded policy versions.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "check":
            self._check(Path(options["file"]))
        elif action == "load":
            self._load(Path(options["file"]))
        else:
            self._list()

    def _read(self, path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise CommandError(f"{path}: {reason}", returncode=1) from None

    def _report(self, errors: list[PolicyIssue]) -> None:
        for issue in errors:
            self.stderr.write(str(issue))

    def _check(self, path: Path) -> None:
        try:
            policy = load_policy(self._read(path), str(path))
        except PolicyError as exc:
            self._report(exc.errors)
            count = len(exc.errors)
            raise CommandError(
                f"{path}: {count} error{'s' if count != 1 else ''}", returncode=1
            ) from None
        self.stdout.write(f"{path}: ok: {policy.summary()}")

    def _load(self, path: Path) -> None:
        # Imported here so `check` never touches the ORM.
        from supporthub.policies.selectors import policy_version_number
        from supporthub.policies.services import (
            PolicyLoadError,
            policy_load,
            policy_version_adopt,
        )

        try:
            version, created = policy_load(text=self._read(path), source_name=path.name)
        except PolicyLoadError as exc:
            self._report(exc.errors)
            raise CommandError(str(exc), returncode=1) from None
        number = policy_version_number(version=version)
        label = (
            f"{version.policy.key} effective {version.effective_date.isoformat()} "
            f"(version {number})"
        )
        if created:
            adopted = policy_version_adopt(version=version)
            self.stdout.write(f"loaded {label}")
            if adopted.retimed:
                self.stdout.write(
                    f"{adopted.retimed} open ticket(s) received since "
                    f"{version.effective_date.isoformat()} now follow it and were re-timed"
                )
        else:
            self.stdout.write(f"already loaded: {label}; nothing changed")

    def _list(self) -> None:
        from supporthub.policies.selectors import policy_versions

        versions = policy_versions()
        if not versions:
            self.stdout.write("no policy is loaded; load one with `supporthub policy load FILE`")
            return
        rows = [("POLICY", "VERSION", "EFFECTIVE", "LOADED", "SHA256", "SOURCE")]
        number: dict[str, int] = {}
        for version in versions:
            key = version.policy.key
            number[key] = number.get(key, 0) + 1
            rows.append(
                (
                    key,
                    str(number[key]),
                    version.effective_date.isoformat(),
                    timezone.localtime(version.loaded_at).strftime("%Y-%m-%d %H:%M"),
                    version.sha256[:12],
                    version.source_name,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[-1]]))
