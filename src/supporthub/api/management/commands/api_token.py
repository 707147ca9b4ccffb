"""`supporthub api-token create|list|revoke`: bearer tokens for integrations.

The token is printed once, as the last line of standard output, and only its SHA-256 is
kept; a lost token is revoked and replaced, never shown again.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from supporthub.api.models import ApiToken
from supporthub.api.services import api_token_create, api_token_revoke
from supporthub.customers.models import Organisation


class Command(BaseCommand):
    help = "API tokens: create (printed once), list, revoke."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser(
            "create", help="Make a token; it is printed once, as the last line of output."
        )
        scope = create.add_mutually_exclusive_group(required=True)
        scope.add_argument("--organisation", help="acts for this organisation (its name)")
        scope.add_argument("--staff", help="acts as this staff login (username)")
        create.add_argument("--name", required=True, help="what uses it, e.g. 'CRM sync'")
        listing = sub.add_parser("list", help="Every token: prefix, name, scope, last use.")
        listing.add_argument("--active", action="store_true", help="leave out revoked tokens")
        revoke = sub.add_parser("revoke", help="Refuse a token from now on.")
        revoke.add_argument("prefix", help="the token's prefix as `list` shows it (or the token)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            self._create(options)
        elif action == "list":
            self._list(active_only=options["active"])
        else:
            self._revoke(options["prefix"])

    def _create(self, options: dict[str, Any]) -> None:
        organisation = staff_user = None
        if options["organisation"] is not None:
            organisation = _organisation(options["organisation"])
        else:
            staff_user = User.objects.filter(username=options["staff"]).first()
            if staff_user is None:
                raise CommandError(f"--staff: no login named {options['staff']!r}", returncode=2)
        try:
            token, raw = api_token_create(
                name=options["name"], organisation=organisation, staff_user=staff_user
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages), returncode=2) from None
        self.stdout.write(
            f"Created API token {token.name!r} ({token.prefix}…) acting {_scope(token)}.\n"
            "It is shown this once; keep it in your integration's secret store:"
        )
        self.stdout.write(raw)

    def _list(self, *, active_only: bool) -> None:
        tokens = ApiToken.objects.select_related("organisation", "staff_user").order_by(
            "created_at", "pk"
        )
        if active_only:
            tokens = tokens.filter(revoked_at__isnull=True)
        rows = [
            (
                token.prefix,
                token.name,
                _scope(token),
                f"{token.created_at:%Y-%m-%d %H:%M}",
                f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never",
                f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active",
            )
            for token in tokens
        ]
        if not rows:
            self.stdout.write("No API tokens.")
            return
        header = ("PREFIX", "NAME", "ACTS", "CREATED (UTC)", "LAST USED (UTC)", "STATE")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())

    def _revoke(self, prefix: str) -> None:
        prefix = prefix.strip().rstrip("…")
        matches = list(ApiToken.objects.filter(prefix=prefix[:10]).select_related("organisation"))
        if not matches:
            raise CommandError(f"No API token with prefix {prefix!r}.", returncode=2)
        if len(matches) > 1:
            names = ", ".join(f"{t.name!r} ({_scope(t)})" for t in matches)
            raise CommandError(
                f"Prefix {prefix!r} matches {len(matches)} tokens ({names}); revoke it in the "
                "admin instead.",
                returncode=2,
            )
        token = matches[0]
        if token.revoked_at is not None:
            self.stdout.write(
                f"{token.prefix}… was already revoked on {token.revoked_at:%Y-%m-%d}."
            )
            return
        api_token_revoke(token=token, at=timezone.now())
        self.stdout.write(f"Revoked {token.prefix}… ({token.name!r}, {_scope(token)}).")


def _organisation(name: str) -> Organisation:
    organisation = Organisation.objects.filter(name=name).first()
    if organisation is None:
        organisation = Organisation.objects.filter(name__iexact=name.strip()).first()
    if organisation is None:
        known = ", ".join(Organisation.objects.values_list("name", flat=True)[:20]) or "none yet"
        raise CommandError(
            f"--organisation: no organisation named {name!r} (known: {known})", returncode=2
        )
    return organisation


def _scope(token: ApiToken) -> str:
    if token.organisation is not None:
        return f"for {token.organisation.name}"
    return f"as {token.staff_user.get_username() if token.staff_user else '?'}"
